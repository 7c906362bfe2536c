//! Annotations over relations (`annotate`), HAVING, ordering by
//! aggregates, relation aggregates in `values`, and CASE WHEN, on both
//! backends.

use crate::support::{both, TestDb};
use sylvan::prelude::*;
use sylvan::{Case, Condition, Schema};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "ann_members")]
struct Member {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
    city: String,
    #[model(foreign_key = Member, on_delete = "set_null")]
    referrer_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "ann_loans")]
struct Loan {
    #[model(primary_key, auto)]
    id: i64,
    #[model(foreign_key = Member)]
    member_id: i64,
    days: i32,
    fine: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "ann_reviews")]
struct Review {
    #[model(primary_key, auto)]
    id: i64,
    #[model(foreign_key = Member)]
    member_id: i64,
    stars: i32,
}

/// | member | city | referrer | loans (days, fine)          | reviews (stars) |
/// |--------|------|----------|-----------------------------|-----------------|
/// | Ann    | Oslo | —        | (10, 1.5), (20, —), (30, 2) | 5               |
/// | Bob    | Oslo | Ann      | (7, —)                      | 3, 4            |
/// | Cid    | Rome | Ann      | —                           | —               |
/// | Dag    | Rome | Bob      | (1, —), (2, —)              | —               |
async fn seed(t: &TestDb) -> Vec<Member> {
    let db = &t.db;
    Schema::new()
        .model::<Member>()
        .model::<Loan>()
        .model::<Review>()
        .create_all(db)
        .await
        .unwrap();
    let mut members: Vec<Member> = Vec::new();
    for (name, city, referrer) in [
        ("Ann", "Oslo", None),
        ("Bob", "Oslo", Some(0)),
        ("Cid", "Rome", Some(0)),
        ("Dag", "Rome", Some(1)),
    ] {
        let referrer_id = referrer.map(|i: usize| members[i].id);
        let m: Member = Member {
            id: 0,
            name: name.into(),
            city: city.into(),
            referrer_id,
        }
        .insert(db)
        .await
        .unwrap();
        members.push(m);
    }
    for (who, days, fine) in [
        (0, 10, Some(1.5)),
        (0, 20, None),
        (0, 30, Some(2.0)),
        (1, 7, None),
        (3, 1, None),
        (3, 2, None),
    ] {
        Loan {
            id: 0,
            member_id: members[who].id,
            days,
            fine,
        }
        .insert(db)
        .await
        .unwrap();
    }
    for (who, stars) in [(0, 5), (1, 3), (1, 4)] {
        Review {
            id: 0,
            member_id: members[who].id,
            stars,
        }
        .insert(db)
        .await
        .unwrap();
    }
    members
}

fn names<T: Clone>(rows: &[(Member, T)]) -> Vec<(String, T)> {
    rows.iter()
        .map(|(m, v)| (m.name.clone(), v.clone()))
        .collect()
}

#[tokio::test]
async fn top_members_by_loans_without_raw_sql() {
    both("ann_top", |t| async move {
        let members = seed(&t).await;
        let k = t.kind;
        let top: Vec<(Member, i64)> = Member::objects()
            .annotate(Loan::MEMBER.count())
            .order_by((Loan::MEMBER.count().desc(), Member::NAME.asc()))
            .limit(3)
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(top[0].0, members[0], "{k:?}: whole models come back");
        assert_eq!(
            names(&top),
            [("Ann".into(), 3), ("Dag".into(), 2), ("Bob".into(), 1)],
            "{k:?}"
        );
        // Every member, those without loans counted 0; a filter on the
        // member narrows the rows, not the count.
        let all: Vec<(Member, i64)> = Member::objects()
            .filter(Member::CITY.eq("Rome"))
            .order_by(Member::NAME.asc())
            .annotate(Loan::MEMBER.count())
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(names(&all), [("Cid".into(), 0), ("Dag".into(), 2)], "{k:?}");
        let first = Member::objects()
            .annotate(Loan::MEMBER.count())
            .order_by(Loan::MEMBER.count().asc())
            .first(&t.db)
            .await
            .unwrap()
            .map(|(m, n)| (m.name, n));
        assert_eq!(first, Some(("Cid".into(), 0)), "{k:?}");
        t
    })
    .await;
}

#[tokio::test]
async fn relation_sum_avg_min_max_are_none_without_rows() {
    both("ann_sums", |t| async move {
        seed(&t).await;
        let k = t.kind;
        type Stats = (Option<i64>, Option<f64>, Option<i32>, Option<f64>);
        let rows: Vec<(Member, Stats)> = Member::objects()
            .order_by(Member::NAME.asc())
            .annotate((
                Loan::MEMBER.sum(Loan::DAYS),
                Loan::MEMBER.avg(Loan::DAYS),
                Loan::MEMBER.min(Loan::DAYS),
                Loan::MEMBER.max(Loan::FINE),
            ))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            names(&rows),
            [
                ("Ann".into(), (Some(60), Some(20.0), Some(10), Some(2.0))),
                ("Bob".into(), (Some(7), Some(7.0), Some(7), None)),
                ("Cid".into(), (None, None, None, None)),
                ("Dag".into(), (Some(3), Some(1.5), Some(1), None)),
            ],
            "{k:?}"
        );
        t
    })
    .await;
}

#[tokio::test]
async fn having_filters_on_aggregates_and_columns() {
    both("ann_having", |t| async move {
        seed(&t).await;
        let k = t.kind;
        let busy: Vec<(Member, i64)> = Member::objects()
            .annotate(Loan::MEMBER.count())
            .having(Loan::MEMBER.count().ge(2))
            .order_by(Member::NAME.asc())
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            names(&busy),
            [("Ann".into(), 3), ("Dag".into(), 2)],
            "{k:?}"
        );

        // Combined with a column condition, negated, and a NULL sum.
        let rows: Vec<(Member, Option<i64>)> = Member::objects()
            .annotate(Loan::MEMBER.sum(Loan::DAYS))
            .having(!Loan::MEMBER.sum(Loan::DAYS).gt(50) & Member::CITY.eq("Oslo"))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(names(&rows), [("Bob".into(), Some(7))], "{k:?}");
        let empty: Vec<(Member, Option<i64>)> = Member::objects()
            .annotate(Loan::MEMBER.sum(Loan::DAYS))
            .having(Loan::MEMBER.sum(Loan::DAYS).is_null() | Loan::MEMBER.count().eq(99))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(names(&empty), [("Cid".into(), None)], "{k:?}");
        t
    })
    .await;
}

#[tokio::test]
async fn relation_aggregates_in_values_group_by_key_or_by_columns() {
    both("ann_values", |t| async move {
        seed(&t).await;
        let k = t.kind;
        let per_member: Vec<(String, i64)> = Member::objects()
            .values((Member::NAME, Loan::MEMBER.count()))
            .order_by(Member::NAME.desc())
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            per_member,
            [
                ("Dag".into(), 2),
                ("Cid".into(), 0),
                ("Bob".into(), 1),
                ("Ann".into(), 3)
            ],
            "{k:?}"
        );
        let per_city: Vec<(String, i64)> = Member::objects()
            .group_by(Member::CITY)
            .values((Member::CITY, Loan::MEMBER.count()))
            .having(Loan::MEMBER.count().gt(0))
            .order_by(Loan::MEMBER.count().desc())
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(per_city, [("Oslo".into(), 4), ("Rome".into(), 2)], "{k:?}");
        // A plain aggregate ordered and filtered by HAVING.
        let cities: Vec<(String, i64)> = Member::objects()
            .group_by(Member::CITY)
            .values((Member::CITY, Member::ID.count()))
            .having(Member::ID.count().ge(2))
            .order_by(Member::CITY.desc())
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(cities, [("Rome".into(), 2), ("Oslo".into(), 2)], "{k:?}");
        t
    })
    .await;
}

#[tokio::test]
async fn aggregates_over_two_relations_do_not_multiply() {
    both("ann_two", |t| async move {
        seed(&t).await;
        let k = t.kind;
        type Counts = (i64, i64, Option<i64>);
        let both_counts: Vec<(Member, Counts)> = Member::objects()
            .annotate((
                Loan::MEMBER.count(),
                Review::MEMBER.count(),
                Review::MEMBER.sum(Review::STARS),
            ))
            .having(Review::MEMBER.count().ge(1))
            .order_by(Member::NAME.asc())
            .all(&t.db)
            .await
            .unwrap();
        // Joined together, Ann's 3 loans x 1 review and Bob's 1 loan x 2
        // reviews would count 3/3 and 2/2.
        assert_eq!(
            names(&both_counts),
            [
                ("Ann".into(), (3, 1, Some(5))),
                ("Bob".into(), (1, 2, Some(7)))
            ],
            "{k:?}"
        );
        let (sql, _) = Member::objects()
            .annotate((Loan::MEMBER.count(), Review::MEMBER.count()))
            .having(Review::MEMBER.count().ge(1))
            .to_sql(sylvan::Dialect::Postgres);
        assert_eq!(
            sql,
            r#"SELECT "ann_members"."id", "ann_members"."name", "ann_members"."city", "ann_members"."referrer_id", (SELECT COUNT("sylvan_agg"."id") FROM "ann_loans" AS "sylvan_agg" WHERE "sylvan_agg"."member_id" = "ann_members"."id"), (SELECT COUNT("sylvan_agg"."id") FROM "ann_reviews" AS "sylvan_agg" WHERE "sylvan_agg"."member_id" = "ann_members"."id") FROM "ann_members" WHERE (((SELECT COUNT("sylvan_agg"."id") FROM "ann_reviews" AS "sylvan_agg" WHERE "sylvan_agg"."member_id" = "ann_members"."id") >= $1))"#
        );
        // With group_by, two relations cannot be correlated: refused.
        let err = Member::objects()
            .group_by(Member::CITY)
            .values((Member::CITY, Loan::MEMBER.count(), Review::MEMBER.count()))
            .all(&t.db)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{k:?}: {err}");
        t
    })
    .await;
}

#[tokio::test]
async fn a_model_annotated_with_its_own_relation() {
    both("ann_self", |t| async move {
        seed(&t).await;
        let k = t.kind;
        let referrals: Vec<(Member, i64)> = Member::objects()
            .annotate(Member::REFERRER.count())
            .order_by((Member::REFERRER.count().desc(), Member::NAME.asc()))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            names(&referrals),
            [
                ("Ann".into(), 2),
                ("Bob".into(), 1),
                ("Cid".into(), 0),
                ("Dag".into(), 0)
            ],
            "{k:?}"
        );
        t
    })
    .await;
}

#[tokio::test]
async fn case_when_selects_filters_orders_and_annotates() {
    both("ann_case", |t| async move {
        seed(&t).await;
        let k = t.kind;
        let length = || {
            Case::<String>::when(Loan::DAYS.ge(20), "long")
                .when(Loan::DAYS.ge(7), "medium")
                .otherwise("short")
        };
        let rows: Vec<(i32, String)> = Loan::objects()
            .order_by(Loan::DAYS.asc())
            .values((Loan::DAYS, length()))
            .all(&t.db)
            .await
            .unwrap();
        let got: Vec<(i32, &str)> = rows.iter().map(|(d, s)| (*d, s.as_str())).collect();
        assert_eq!(
            got,
            [
                (1, "short"),
                (2, "short"),
                (7, "medium"),
                (10, "medium"),
                (20, "long"),
                (30, "long")
            ],
            "{k:?}"
        );
        // Without ELSE: NULL; integers; in a filter and an order.
        let rank = Case::<i64>::when(Loan::FINE.is_not_null(), 0).end();
        let fined: Vec<(i32, Option<i64>)> = Loan::objects()
            .order_by((Loan::DAYS.asc(),))
            .values((Loan::DAYS, rank.clone()))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            fined,
            [
                (1, None),
                (2, None),
                (7, None),
                (10, Some(0)),
                (20, None),
                (30, Some(0))
            ],
            "{k:?}"
        );
        let only: Vec<i32> = Loan::objects()
            .filter(rank.eq(0) & Condition::all([]))
            .order_by(length().desc())
            .values(Loan::DAYS)
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            only,
            [10, 30],
            "{k:?}: \"medium\" sorts before \"long\" descending"
        );
        // A CASE over a column as the value, annotated on a model.
        let doubled = Case::<i32>::when(Loan::DAYS.lt(5), Loan::DAYS * 2).otherwise(Loan::DAYS);
        let rows: Vec<(Loan, i32)> = Loan::objects()
            .filter(Loan::DAYS.lt(8))
            .order_by(Loan::DAYS.asc())
            .annotate(doubled)
            .all(&t.db)
            .await
            .unwrap();
        let got: Vec<(i32, i32)> = rows.iter().map(|(l, d)| (l.days, *d)).collect();
        assert_eq!(got, [(1, 2), (2, 4), (7, 7)], "{k:?}");
        t
    })
    .await;
}
