//! The one place a statement's values ([`Param`]) become DuckDB values: `params_from_iter` over a
//! statement's `params` binds them through this `ToSql`.

use chrono::NaiveDate;
use duckdb::types::{TimeUnit, ToSqlOutput, ValueRef};
use duckdb::ToSql;

use super::sql::Param;

impl ToSql for Param {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Param::Text(text) => ValueRef::from(text.as_str()),
            Param::Int(n) => ValueRef::BigInt(*n),
            Param::Date(day) => {
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch");
                ValueRef::Date32(i32::try_from((*day - epoch).num_days()).unwrap_or(i32::MAX))
            }
            Param::Timestamp(t) => ValueRef::Timestamp(TimeUnit::Microsecond, t.timestamp_micros()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use duckdb::Connection;

    /// Each kind of value arrives as the value the statements compare it with.
    #[test]
    fn params_bind_as_their_duckdb_values() {
        let conn = Connection::open_in_memory().unwrap();
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 30, 5).unwrap()
            + chrono::Duration::microseconds(7);
        let params = [
            Param::Text("it's".into()),
            Param::Int(-3_600_000_000),
            Param::Date(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()),
            Param::Timestamp(t),
        ];
        let same: [bool; 4] = conn
            .query_row(
                "SELECT $1 = 'it''s', $2 = CAST(-3600000000 AS BIGINT), \
                 $3 = DATE '2026-03-01', $4 = TIMESTAMP '2026-03-01 12:30:05.000007'",
                duckdb::params_from_iter(params.iter()),
                |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]),
            )
            .unwrap();
        assert_eq!(same, [true; 4]);
    }
}
