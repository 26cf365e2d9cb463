import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as SqlText from "../src/internal/sqlText.js"

const texts = (sql: string) => SqlText.split(sql).map((s) => s.text)

describe("split", () => {
  it("splits on top-level semicolons only", () => {
    expect(texts("select 1; select 2;\n\nselect 3")).toEqual(["select 1", "select 2", "select 3"])
    expect(texts("select ';'; select 'it''s; fine'")).toEqual(["select ';'", "select 'it''s; fine'"])
    expect(texts("select E'a\\'; b'; select 2")).toEqual(["select E'a\\'; b'", "select 2"])
    expect(texts(`select "a;b" from t; select 2`)).toEqual([`select "a;b" from t`, "select 2"])
    expect(texts("select 1 -- a; comment\n; select 2")).toEqual(["select 1 -- a; comment", "select 2"])
    expect(texts("select /* a; /* nested; */ b; */ 1; select 2")).toEqual([
      "select /* a; /* nested; */ b; */ 1",
      "select 2"
    ])
    expect(texts("create function f() returns int as $body$ begin return 1; end; $body$ language plpgsql; select 2"))
      .toEqual(["create function f() returns int as $body$ begin return 1; end; $body$ language plpgsql", "select 2"])
    expect(texts("select $$a;b$$; select $1")).toEqual(["select $$a;b$$", "select $1"])
    expect(texts("-- only a comment\n;  ; /* another */")).toEqual([])
  })

  it("keeps SQL-standard function bodies (BEGIN ATOMIC ... END) whole, like psql", () => {
    const fn = `CREATE OR REPLACE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT CASE WHEN a > 0 THEN a ELSE 0 END + b;
END`
    expect(texts(`${fn};\nSELECT 1`)).toEqual([fn, "SELECT 1"])
  })

  it("reports the line each statement starts on", () => {
    expect(SqlText.split("-- header\n\nselect 1;\n\n  select\n2;").map((s) => s.line)).toEqual([3, 5])
  })

  it("property: joining simple statements with ';' splits back into them", () => {
    const word = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/)
    const literal = fc.string({ maxLength: 12 }).map((s) => `'${s.replace(/'/g, "''")}'`)
    const dollar = fc.string({ maxLength: 12 }).filter((s) => !s.includes("$q$")).map((s) => `$q$${s}$q$`)
    const statement = fc.array(fc.oneof(word, literal, dollar), { minLength: 1, maxLength: 6 }).map((parts) =>
      `select ${parts.join(" ")}`
    )
    fc.assert(fc.property(fc.array(statement, { minLength: 1, maxLength: 6 }), (statements) => {
      expect(texts(statements.join(";\n"))).toEqual(statements)
    }))
  })
})

describe("directives and transaction control", () => {
  it("reads berth: directives from the leading comments only", () => {
    expect(SqlText.directives("-- berth:no-transaction\ncreate index concurrently i on t (c);")).toEqual([
      { name: "no-transaction", line: 1 }
    ])
    expect(SqlText.directives("-- a note\n--  berth: No-Transaction \nselect 1")).toEqual([
      { name: "no-transaction", line: 2 }
    ])
    expect(SqlText.directives("select 1;\n-- berth:no-transaction")).toEqual([])
  })

  it("finds BEGIN/COMMIT statements but not PL/pgSQL or BEGIN ATOMIC blocks", () => {
    const found = SqlText.transactionControlStatements(`BEGIN;
create function f() returns void language plpgsql as $$ begin perform 1; commit; end $$;
create function g() returns int language sql begin atomic select 1; end;
start transaction isolation level serializable;
COMMIT;`)
    expect(found.map((s) => s.text.split(/\s+/)[0]!.toLowerCase())).toEqual(["begin", "start", "commit"])
  })
})
