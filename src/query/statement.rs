//! An untyped SELECT statement: what `values`, `annotate` and subqueries
//! render, and how relation aggregates turn into a JOIN or correlated
//! subqueries (see `aggregate.rs`).

use super::aggregate::{joins_in_node, joins_in_operand, Join, RELATED};
use super::condition::Node;
use super::operand::Operand;
use super::order::Order;
use super::queryset::QuerySet;
use super::render::SqlWriter;
use crate::error::{Error, Result};
use crate::model::Model;

/// A SELECT over one table, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Select {
    pub(crate) distinct: bool,
    /// The select list; empty renders `1` (for EXISTS).
    pub(crate) items: Vec<Operand>,
    pub(crate) table: &'static str,
    /// `FROM table AS alias`.
    pub(crate) alias: Option<&'static str>,
    /// The table's primary key column: relation aggregates group by it.
    pub(crate) key: &'static str,
    pub(crate) filter: Node,
    pub(crate) group_by: Vec<Operand>,
    /// `Node::And([])` for none.
    pub(crate) having: Node,
    pub(crate) orders: Vec<Order<()>>,
    pub(crate) limit: Option<u64>,
    pub(crate) offset: Option<u64>,
}

/// How the relation aggregates of a statement render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// None, or aggregates over one relation: one LEFT JOIN, grouped by
    /// the table's key unless grouped otherwise.
    Join(Option<Join>),
    /// Aggregates over several relations: each a correlated subquery,
    /// so none multiplies another's rows; HAVING becomes WHERE.
    Correlated,
}

fn is_empty(node: &Node) -> bool {
    matches!(node, Node::And(v) if v.is_empty())
}

impl Select {
    /// The statement of `query` selecting `items`, with its filter,
    /// order, limit, offset and `distinct`.
    pub(crate) fn of<M: Model>(query: &QuerySet<M>, items: Vec<Operand>) -> Self {
        Select {
            distinct: query.distinct,
            items,
            table: M::TABLE,
            alias: None,
            key: M::COLUMNS[M::PRIMARY_KEY_INDEX],
            filter: query.filter.clone(),
            group_by: Vec::new(),
            having: Node::And(Vec::new()),
            orders: erase(&query.orders),
            limit: query.limit,
            offset: query.offset,
        }
    }

    fn plan(&self) -> Result<Plan> {
        let mut calls = Vec::new();
        self.items
            .iter()
            .chain(self.group_by.iter())
            .chain(self.orders.iter().map(|o| &o.operand))
            .for_each(|op| joins_in_operand(op, &mut calls));
        joins_in_node(&self.having, &mut calls);
        let joins: Vec<Join> = calls.iter().flatten().copied().collect();
        match joins.as_slice() {
            [] => Ok(Plan::Join(None)),
            [one] => Ok(Plan::Join(Some(*one))),
            _ if !self.group_by.is_empty() || calls.contains(&None) => Err(Error::Unsupported {
                backend: "sylvan",
                what: "aggregates over two relations together with group_by or aggregates \
                       over the queried rows (run them as separate queries)"
                    .to_owned(),
            }),
            _ => Ok(Plan::Correlated),
        }
    }

    /// Refuses a statement that cannot be rendered faithfully.
    pub(crate) fn check(&self) -> Result<()> {
        self.plan().map(|_| ())
    }

    /// The statement as run for `query`: checked, with `limit` (when
    /// given) in place of its own, and the query's row lock.
    pub(crate) fn render_for<M: Model>(
        mut self,
        query: &QuerySet<M>,
        dialect: crate::Dialect,
        limit: Option<u64>,
    ) -> Result<(String, Vec<crate::value::Value>)> {
        self.check()?;
        if limit.is_some() {
            self.limit = limit;
        }
        let mut w = SqlWriter::new(dialect);
        w.push_select(&self);
        query.push_lock(&mut w);
        Ok(w.finish())
    }
}

/// Orders of any model, untyped.
pub(crate) fn erase<M>(orders: &[Order<M>]) -> Vec<Order<()>> {
    orders
        .iter()
        .map(|o| {
            let mut e = Order::new(o.operand.clone(), o.descending);
            e.nulls = o.nulls;
            e
        })
        .collect()
}

impl SqlWriter {
    /// Renders `select` (a statement that fails [`Select::check`] renders
    /// as if its aggregates were correlated).
    pub(crate) fn push_select(&mut self, select: &Select) {
        let plan = select.plan().unwrap_or(Plan::Correlated);
        let outer = self.correlate_aggregates;
        self.correlate_aggregates = plan == Plan::Correlated;
        self.push_sql(if select.distinct {
            "SELECT DISTINCT "
        } else {
            "SELECT "
        });
        if select.items.is_empty() {
            self.push_sql("1");
        }
        for (i, item) in select.items.iter().enumerate() {
            if i > 0 {
                self.push_sql(", ");
            }
            self.push_operand(item);
        }
        self.push_sql(" FROM ");
        self.push_identifier(select.table);
        if let Some(alias) = select.alias {
            self.push_sql(" AS ");
            self.push_identifier(alias);
        }
        let table = select.alias.unwrap_or(select.table);
        if let Plan::Join(Some(join)) = plan {
            self.push_sql(" LEFT JOIN ");
            self.push_identifier(join.table);
            self.push_sql(" AS ");
            self.push_identifier(RELATED);
            self.push_sql(" ON ");
            self.push_column(RELATED, join.fk);
            self.push_sql(" = ");
            self.push_column(table, select.key);
        }
        let mut filter = select.filter.clone();
        let mut having = select.having.clone();
        if plan == Plan::Correlated && !is_empty(&having) {
            filter = filter.and(std::mem::replace(&mut having, Node::And(Vec::new())));
        }
        if !is_empty(&filter) {
            self.push_sql(" WHERE ");
            self.push_condition(&filter);
        }
        if let (Plan::Join(Some(_)), true) = (plan, select.group_by.is_empty()) {
            self.push_sql(" GROUP BY ");
            self.push_column(table, select.key);
        }
        for (i, op) in select.group_by.iter().enumerate() {
            self.push_sql(if i == 0 { " GROUP BY " } else { ", " });
            self.push_operand(op);
        }
        if !is_empty(&having) {
            self.push_sql(" HAVING ");
            self.push_condition(&having);
        }
        self.push_orders(&select.orders);
        self.push_limit_offset(select.limit, select.offset);
        self.correlate_aggregates = outer;
    }
}
