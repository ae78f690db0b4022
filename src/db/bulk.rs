//! Statements built at run time: placeholders in each backend's own style, and
//! multi-row inserts in power-of-two chunks (batching is the whole game for bulk writes,
//! DESIGN.md "Performance").

use super::{backend_of_conn, Backend, Conn};

/// Numbered placeholders for one statement, in the backend's own style: `$1, $2, …` on
/// PostgreSQL, plain `?` on SQLite. SQLite resolves each *named* parameter (`$N` is a
/// name to it) with a linear search over those seen so far, so a statement with N `$N`
/// placeholders costs O(N²) to prepare: a 1,000-row insert ran at 48k rows/s with `$N`
/// and 1.3M rows/s with `?` here. With `?` the values must be bound in textual order
/// and a value used twice is bound twice.
#[derive(Debug)]
pub struct Placeholders {
    numbered: bool,
    next: usize,
}

impl Placeholders {
    /// Placeholders for a statement on `conn`, the first numbered 1.
    pub fn for_conn(conn: &Conn) -> Self {
        Self::for_backend(backend_of_conn(conn))
    }

    pub fn for_backend(backend: Backend) -> Self {
        Self { numbered: backend == Backend::Postgres, next: 1 }
    }

    /// Continues after `already` parameters that were written by hand.
    pub fn starting_after(mut self, already: usize) -> Self {
        self.next = already + 1;
        self
    }

    /// The next placeholder.
    pub fn one(&mut self) -> String {
        let n = self.next;
        self.next += 1;
        if self.numbered {
            format!("${n}")
        } else {
            "?".to_string()
        }
    }

    /// `p, p, p` for `count` values.
    pub fn list(&mut self, count: usize) -> String {
        (0..count).map(|_| self.one()).collect::<Vec<_>>().join(", ")
    }

    /// `(p, p), (p, p), …` for a multi-row VALUES clause of `rows` × `columns`.
    pub fn rows(&mut self, rows: usize, columns: usize) -> String {
        (0..rows).map(|_| format!("({})", self.list(columns))).collect::<Vec<_>>().join(", ")
    }
}

/// Builds `($1, $2, ...), ($k, ...)` for a multi-row INSERT of `rows` × `columns`
/// (PostgreSQL style; see [`Placeholders`] for statements that run on both backends).
pub fn values_placeholders(rows: usize, columns: usize) -> String {
    Placeholders::for_backend(Backend::Postgres).rows(rows, columns)
}

/// A value for [`insert_many`]; the portable types both backends share.
#[derive(Clone, Debug)]
pub enum SqlValue {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Blob(Vec<u8>),
    OptBlob(Option<Vec<u8>>),
}

/// Most bound parameters in one multi-row statement (SQLite allows 32,766, PostgreSQL
/// 65,535). Large statements amortise the ~70 µs every statement costs here.
const MAX_PARAMS_PER_STATEMENT: usize = 8_192;

/// Most rows in one multi-row statement.
const MAX_ROWS_PER_STATEMENT: usize = 512;

/// Inserts `rows` into `table` as multi-row `INSERT ... VALUES (...), (...)` statements.
/// Batching is the whole game for bulk writes (DESIGN.md "Performance").
pub async fn insert_many(
    conn: &mut Conn,
    table: &str,
    columns: &[&str],
    rows: &[Vec<SqlValue>],
) -> Result<(), sqlx::Error> {
    insert_many_with(conn, table, columns, rows, "").await
}

/// [`insert_many`] with a clause after the values, e.g. `ON CONFLICT ... DO NOTHING`.
///
/// Rows go out in chunks whose sizes are powers of two (a batch of 22 rows is 16 + 4 + 2),
/// so however batch sizes vary, each table needs only a handful of distinct statements
/// and every one is prepared once per connection and then reused from sqlx's cache.
pub async fn insert_many_with(
    conn: &mut Conn,
    table: &str,
    columns: &[&str],
    rows: &[Vec<SqlValue>],
    suffix: &str,
) -> Result<(), sqlx::Error> {
    for (sql, chunk) in insert_statements(backend_of_conn(conn), Undo::Statement, table, columns, rows, suffix) {
        bind_all(sqlx::query(&sql), chunk.iter().flatten()).execute(&mut *conn).await?;
    }
    Ok(())
}

/// What a write statement that fails part-way must take back before it returns its error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Undo {
    /// The statement's own changes, so that its transaction can go on without them (a
    /// caller that treats a unique violation as "already there" needs this). SQLite copies
    /// every existing page a multi-row statement touches into a statement journal first.
    Statement,
    /// Nothing: the caller rolls its whole transaction back on any error, so SQLite's
    /// `OR FAIL` spares the statement journal (a copy and an allocation per page touched,
    /// for each of the several statements of every audit batch and sealing round).
    Transaction,
}

impl Undo {
    /// The statement's verb with its conflict clause, e.g. `INSERT OR FAIL`.
    pub fn verb(self, backend: Backend, verb: &str) -> String {
        match (self, backend) {
            (Undo::Transaction, Backend::Sqlite) => format!("{verb} OR FAIL"),
            _ => verb.to_string(),
        }
    }
}

/// The statements of a multi-row insert and the rows each takes: chunks whose sizes are
/// powers of two, bounded by [`MAX_PARAMS_PER_STATEMENT`] and [`MAX_ROWS_PER_STATEMENT`].
pub(super) fn insert_statements<'r>(
    backend: Backend,
    undo: Undo,
    table: &str,
    columns: &[&str],
    rows: &'r [Vec<SqlValue>],
    suffix: &str,
) -> Vec<(String, &'r [Vec<SqlValue>])> {
    let largest = (MAX_PARAMS_PER_STATEMENT / columns.len().max(1)).clamp(1, MAX_ROWS_PER_STATEMENT);
    let insert = undo.verb(backend, "INSERT");
    let mut statements = Vec::new();
    let mut rest = rows;
    while !rest.is_empty() {
        let take = chunk_len(rest.len(), largest);
        let (chunk, tail) = rest.split_at(take);
        let sql = format!(
            "{insert} INTO {table} ({}) VALUES {} {suffix}",
            columns.join(", "),
            Placeholders::for_backend(backend).rows(chunk.len(), columns.len())
        );
        statements.push((sql, chunk));
        rest = tail;
    }
    statements
}

/// `items` padded to a power of two by repeating the last one, for `IN (...)` lists: the
/// statement text then takes one of a handful of shapes, each prepared once per
/// connection and reused (a text per list length re-prepared the statement on every
/// other call; repeating a value in an `IN` list changes nothing).
pub fn padded<T: Clone>(items: &[T]) -> Vec<T> {
    let mut out = items.to_vec();
    if let Some(last) = items.last() {
        out.resize(items.len().next_power_of_two(), last.clone());
    }
    out
}

/// The next chunk of `remaining` rows: the largest power of two not above it or `largest`.
pub fn chunk_len(remaining: usize, largest: usize) -> usize {
    let cap = remaining.clamp(1, largest.max(1));
    1 << (usize::BITS - 1 - cap.leading_zeros())
}

/// Binds each value in order.
pub fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    values: impl IntoIterator<Item = &'q SqlValue>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for value in values {
        query = match value {
            SqlValue::Text(v) => query.bind(v.as_str()),
            SqlValue::OptText(v) => query.bind(v.as_deref()),
            SqlValue::Int(v) => query.bind(*v),
            SqlValue::OptInt(v) => query.bind(*v),
            SqlValue::Blob(v) => query.bind(v.as_slice()),
            SqlValue::OptBlob(v) => query.bind(v.as_deref()),
        };
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_then_columns() {
        assert_eq!(values_placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(Placeholders::for_backend(Backend::Sqlite).rows(2, 2), "(?, ?), (?, ?)");
        assert_eq!(Placeholders::for_backend(Backend::Postgres).starting_after(2).list(2), "$3, $4");
    }

    #[test]
    fn chunks_are_powers_of_two_that_add_up() {
        for (total, largest) in [(1, 512), (22, 512), (512, 512), (1000, 512), (1025, 64), (7, 3)] {
            let mut left = total;
            let mut sizes = Vec::new();
            while left > 0 {
                let take = chunk_len(left, largest);
                assert!(take.is_power_of_two() && take <= largest, "{take} of {left}, largest {largest}");
                sizes.push(take);
                left -= take;
            }
            assert_eq!(sizes.iter().sum::<usize>(), total);
        }
        assert_eq!(chunk_len(22, 512), 16);
        assert_eq!(chunk_len(0, 512), 1, "never a zero-row statement, never a panic");
    }

    #[test]
    fn in_lists_pad_to_a_power_of_two_with_the_last_value() {
        assert_eq!(padded(&[1, 2, 3]), vec![1, 2, 3, 3]);
        assert_eq!(padded(&[1, 2, 3, 4]), vec![1, 2, 3, 4]);
        assert!(padded::<u8>(&[]).is_empty());
    }
}
