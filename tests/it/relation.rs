//! Foreign keys and related loading on both backends.

use crate::support::both;
use sylvan::prelude::*;
use sylvan::testing::{assert_no_n_plus_one, count_queries};
use sylvan::Schema;

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "assoc_users")]
struct User {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "assoc_posts")]
struct Post {
    #[model(primary_key, auto)]
    id: i64,
    #[model(foreign_key = User, on_delete = "cascade")]
    user_id: i64,
    #[model(foreign_key = User, on_delete = "set_null")]
    editor_id: Option<i64>,
    title: String,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "assoc_comments")]
struct Comment {
    #[model(primary_key, auto)]
    id: i64,
    #[model(foreign_key = Post)]
    post_id: i64,
    body: String,
}

fn schema() -> Schema {
    Schema::new()
        .model::<Comment>()
        .model::<Post>()
        .model::<User>()
}

async fn user(db: &Database, name: &str) -> User {
    User {
        id: 0,
        name: name.into(),
    }
    .insert(db)
    .await
    .unwrap()
}

async fn post(db: &Database, user: &User, editor: Option<&User>, title: &str) -> Post {
    Post {
        id: 0,
        user_id: user.id,
        editor_id: editor.map(|e| e.id),
        title: title.into(),
    }
    .insert(db)
    .await
    .unwrap()
}

#[tokio::test]
async fn forward_select_related_and_related_filters() {
    both("rel_basic", |t| async move {
        let db = &t.db;
        assert_eq!(
            schema().creation_order().unwrap(),
            ["assoc_users", "assoc_posts", "assoc_comments"]
        );
        schema().create_all(db).await.unwrap();
        let ann = user(db, "Ann").await;
        let bob = user(db, "Bob").await;
        let p1 = post(db, &ann, Some(&bob), "one").await;
        let p2 = post(db, &bob, None, "two").await;

        // Forward, non-null and nullable.
        assert_eq!(p1.user(db).await.unwrap(), ann);
        assert_eq!(p1.editor(db).await.unwrap(), Some(bob.clone()));
        assert_eq!(p2.editor(db).await.unwrap(), None);

        // select_related: JOIN for a non-null key, LEFT JOIN for a nullable one.
        let rows = Post::objects()
            .order_by(Post::ID.asc())
            .select_related(Post::USER)
            .all(db)
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![(p1.clone(), ann.clone()), (p2.clone(), bob.clone())]
        );
        let rows = Post::objects()
            .order_by(Post::ID.asc())
            .select_related(Post::EDITOR)
            .all(db)
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![(p1.clone(), Some(bob.clone())), (p2.clone(), None)]
        );

        // Filtering on the related model's columns (author__name__icontains).
        let by_ann = Post::objects()
            .filter(Post::USER.has(User::NAME.icontains("an")))
            .all(db)
            .await
            .unwrap();
        assert_eq!(by_ann, vec![p1.clone()]);
        let none = Post::objects()
            .filter(
                Post::USER.has(User::NAME.eq("nobody")) | Post::EDITOR.has(User::NAME.eq("nobody")),
            )
            .count(db)
            .await
            .unwrap();
        assert_eq!(none, 0);

        // Prefetch with a user that has no posts.
        let carl = user(db, "Carl").await;
        let users = User::objects()
            .order_by(User::ID.asc())
            .all(db)
            .await
            .unwrap();
        let with_posts = Post::USER.attach(users, db).await.unwrap();
        assert_eq!(
            with_posts,
            vec![
                (ann.clone(), vec![p1.clone()]),
                (bob.clone(), vec![p2.clone()]),
                (carl, vec![])
            ]
        );
        schema().drop_all(db).await.unwrap();
        t
    })
    .await;
}

#[tokio::test]
async fn delete_actions_and_foreign_key_violations() {
    both("rel_delete", |t| async move {
        let db = &t.db;
        schema().create_all(db).await.unwrap();
        let ann = user(db, "Ann").await;
        let bob = user(db, "Bob").await;
        let p = post(db, &ann, Some(&bob), "x").await;
        Comment {
            id: 0,
            post_id: p.id,
            body: "c".into(),
        }
        .insert(db)
        .await
        .unwrap();

        // A key pointing nowhere is a typed foreign-key violation.
        let err = Comment {
            id: 0,
            post_id: 9_999,
            body: "orphan".into(),
        }
        .insert(db)
        .await
        .unwrap_err();
        assert!(err.is_foreign_key_violation(), "{err:?}");

        // RESTRICT (the default): a post with comments cannot go.
        let err = p.delete(db).await.unwrap_err();
        assert!(err.is_foreign_key_violation(), "{err:?}");

        // SET NULL: deleting the editor clears editor_id.
        bob.delete(db).await.unwrap();
        let reloaded = Post::get(db, p.id).await.unwrap();
        assert_eq!(reloaded.editor_id, None);

        // CASCADE: deleting the user deletes their posts (after the comment goes).
        Comment::objects().delete(db).await.unwrap();
        ann.delete(db).await.unwrap();
        assert_eq!(Post::objects().count(db).await.unwrap(), 0);
        schema().drop_all(db).await.unwrap();
        t
    })
    .await;
}

#[tokio::test]
async fn users_posts_comments_load_in_three_queries() {
    both("rel_assoc", |t| async move {
        let db = &t.db;
        schema().create_all(db).await.unwrap();
        let users: Vec<User> = (0..100)
            .map(|i| User {
                id: 0,
                name: format!("u{i}"),
            })
            .collect();
        let users = User::insert_many(users, db).await.unwrap();
        let posts: Vec<Post> = users
            .iter()
            .flat_map(|u| {
                (0..10).map(move |i| Post {
                    id: 0,
                    user_id: u.id,
                    editor_id: None,
                    title: format!("p{i}"),
                })
            })
            .collect();
        let posts = Post::insert_many(posts, db).await.unwrap();
        let comments: Vec<Comment> = posts
            .iter()
            .flat_map(|p| {
                (0..10).map(move |i| Comment {
                    id: 0,
                    post_id: p.id,
                    body: format!("c{i}"),
                })
            })
            .collect();
        Comment::insert_many(comments, db).await.unwrap();

        let ((users, posts, comments), log) = count_queries(assert_no_n_plus_one(async {
            let users = User::objects()
                .order_by(User::ID.asc())
                .all(db)
                .await
                .unwrap();
            let posts = Post::USER.load_for(&users, db).await.unwrap();
            let flat: Vec<Post> = posts.iter().flatten().cloned().collect();
            let comments = Comment::POST.load_for(&flat, db).await.unwrap();
            (users, posts, comments)
        }))
        .await;
        assert_eq!(
            log.len(),
            3,
            "users, posts and comments in exactly three queries:\n{log}"
        );

        assert_eq!(users.len(), 100);
        assert!(posts.iter().all(|p| p.len() == 10));
        assert!(comments.iter().all(|c| c.len() == 10));
        assert_eq!(comments.iter().map(Vec::len).sum::<usize>(), 10_000);
        for (user, posts) in users.iter().zip(&posts) {
            assert!(posts.iter().all(|p| p.user_id == user.id));
        }
        schema().drop_all(db).await.unwrap();
        t
    })
    .await;
}
