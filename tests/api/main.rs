//! The integration suite: the real router on a random port, a real database per test
//! (SQLite by default, PostgreSQL with `CUSTODIA_TEST_POSTGRES_URL`), talking HTTP.

mod helpers;
mod smoke;
