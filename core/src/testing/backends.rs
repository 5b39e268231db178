//! Running a test on both backends: each named test function, taking the
//! [`Backend`](crate::store::Backend) to run on, becomes one test in a module
//! `sqlite` and one in a module `postgres`.

/// Runs each named test function (`fn test(backend: Backend)`) once per
/// backend, as `sqlite::test` and `postgres::test`.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $test() { super::$test($crate::store::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $test() { super::$test($crate::store::Backend::Postgres) } )*
        }
    };
}

/// [`on_both_backends!`] for `async fn test(backend: Backend)`, each run by
/// `#[tokio::test]`; `flavor = "multi_thread";` before the names runs them
/// on the multi-threaded runtime.
#[macro_export]
macro_rules! on_both_backends_async {
    (flavor = $flavor:literal; $($test:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = $flavor)] async fn $test() {
                super::$test($crate::store::Backend::Sqlite).await
            } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = $flavor)] async fn $test() {
                super::$test($crate::store::Backend::Postgres).await
            } )*
        }
    };
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $test() { super::$test($crate::store::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $test() { super::$test($crate::store::Backend::Postgres).await } )*
        }
    };
}
