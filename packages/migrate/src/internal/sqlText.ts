/**
 * A small lexer for PostgreSQL SQL text: enough to split a migration file into top-level
 * statements, read its leading `-- berth:` directives and find transaction control
 * statements. It understands everything that can hide a `;`: single-quoted strings
 * (with `''`), `E'...'` strings (with backslash escapes), quoted identifiers, dollar-quoted
 * bodies (`$$`/`$tag$`), line comments and nested block comments.
 *
 * @internal
 */

/** One top-level statement: its text without the trailing `;`, and where it starts. */
export interface Statement {
  readonly text: string
  /** 1-based line of the statement's first significant character. */
  readonly line: number
}

const isIdentChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_$]/.test(c)

/** Index just past the dollar-quote tag starting at `i` (`$` or `$tag$`), or -1. */
const dollarTagEnd = (text: string, i: number): number => {
  const match = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i, i + 64))
  return match === null ? -1 : i + match[0].length
}

/**
 * Splits `text` into top-level statements. Comments stay inside the statement they precede
 * or interrupt (PostgreSQL ignores them); statements made only of comments and whitespace
 * are dropped.
 */
export const split = (text: string): Array<Statement> => {
  const statements: Array<Statement> = []
  let start = 0
  let i = 0
  // psql's rule for SQL-standard function bodies (`BEGIN ATOMIC ... END`): inside a
  // CREATE FUNCTION/PROCEDURE statement, BEGIN and CASE open a block that END closes, and
  // a `;` inside a block does not end the statement.
  let words: Array<string> = []
  let depth = 0
  const push = (end: number) => {
    const raw = text.slice(start, end)
    if (stripComments(raw).trim() !== "") {
      statements.push({ text: raw.trim(), line: lineAt(text, start + firstSignificant(raw)) })
    }
    words = []
    depth = 0
  }
  while (i < text.length) {
    const c = text[i]!
    const next = text[i + 1]
    if (c === "-" && next === "-") {
      const eol = text.indexOf("\n", i)
      i = eol === -1 ? text.length : eol + 1
    } else if (c === "/" && next === "*") {
      i = skipBlockComment(text, i)
    } else if (c === "'") {
      const escapes = (text[i - 1] === "E" || text[i - 1] === "e") && !isIdentChar(text[i - 2])
      i = skipQuoted(text, i, "'", escapes)
    } else if (c === "\"") {
      i = skipQuoted(text, i, "\"", false)
    } else if (c === "$" && !isIdentChar(text[i - 1]) && dollarTagEnd(text, i) !== -1) {
      const tagEnd = dollarTagEnd(text, i)
      const tag = text.slice(i, tagEnd)
      const close = text.indexOf(tag, tagEnd)
      i = close === -1 ? text.length : close + tag.length
    } else if (c === ";" && depth === 0) {
      push(i)
      start = i + 1
      i++
    } else if (/[A-Za-z_]/.test(c) && !isIdentChar(text[i - 1])) {
      let end = i + 1
      while (isIdentChar(text[end])) end++
      const word = text.slice(i, end).toLowerCase()
      if (words.length < 4) words.push(word)
      if (isRoutineDefinition(words)) {
        if (word === "begin" || word === "case") depth++
        else if (word === "end" && depth > 0) depth--
      }
      i = end
    } else {
      i++
    }
  }
  push(text.length)
  return statements
}

const isRoutineDefinition = (words: ReadonlyArray<string>): boolean =>
  words[0] === "create" &&
  (words[1] === "function" || words[1] === "procedure" ||
    (words[1] === "or" && words[2] === "replace" && (words[3] === "function" || words[3] === "procedure")))

const skipBlockComment = (text: string, from: number): number => {
  let depth = 0
  let i = from
  while (i < text.length) {
    if (text[i] === "/" && text[i + 1] === "*") {
      depth++
      i += 2
    } else if (text[i] === "*" && text[i + 1] === "/") {
      depth--
      i += 2
      if (depth === 0) return i
    } else {
      i++
    }
  }
  return text.length
}

const skipQuoted = (text: string, from: number, quote: string, backslashEscapes: boolean): number => {
  let i = from + 1
  while (i < text.length) {
    const c = text[i]
    if (backslashEscapes && c === "\\") {
      i += 2
    } else if (c === quote) {
      if (text[i + 1] === quote) i += 2
      else return i + 1
    } else {
      i++
    }
  }
  return text.length
}

/** `text` with comments replaced by spaces (strings and identifiers are kept). */
export const stripComments = (text: string): string => {
  let out = ""
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    const next = text[i + 1]
    let end: number
    if (c === "-" && next === "-") {
      const eol = text.indexOf("\n", i)
      end = eol === -1 ? text.length : eol
      out += " "
    } else if (c === "/" && next === "*") {
      end = skipBlockComment(text, i)
      out += " "
    } else {
      if (c === "'") {
        const escapes = (text[i - 1] === "E" || text[i - 1] === "e") && !isIdentChar(text[i - 2])
        end = skipQuoted(text, i, "'", escapes)
      } else if (c === "\"") {
        end = skipQuoted(text, i, "\"", false)
      } else if (c === "$" && !isIdentChar(text[i - 1]) && dollarTagEnd(text, i) !== -1) {
        const tagEnd = dollarTagEnd(text, i)
        const tag = text.slice(i, tagEnd)
        const close = text.indexOf(tag, tagEnd)
        end = close === -1 ? text.length : close + tag.length
      } else {
        end = i + 1
      }
      out += text.slice(i, end)
    }
    i = end
  }
  return out
}

const firstSignificant = (raw: string): number => {
  let i = 0
  while (i < raw.length) {
    const c = raw[i]!
    if (c === "-" && raw[i + 1] === "-") {
      const eol = raw.indexOf("\n", i)
      i = eol === -1 ? raw.length : eol + 1
    } else if (c === "/" && raw[i + 1] === "*") {
      i = skipBlockComment(raw, i)
    } else if (/\s/.test(c)) {
      i++
    } else {
      return i
    }
  }
  return 0
}

const lineAt = (text: string, index: number): number => {
  let line = 1
  for (let i = 0; i < index && i < text.length; i++) if (text[i] === "\n") line++
  return line
}

/** A `-- berth:<name>` directive from the comment lines at the top of a file. */
export interface Directive {
  readonly name: string
  readonly line: number
}

/**
 * Reads the directives in the leading comment lines of a file (before its first
 * statement). Directives further down are ignored on purpose: a directive must be visible
 * at the top of the file to the person reviewing it.
 */
export const directives = (text: string): Array<Directive> => {
  const found: Array<Directive> = []
  const lines = text.split("\n")
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim()
    if (line === "") continue
    if (!line.startsWith("--")) break
    const match = /^--\s*berth:\s*([A-Za-z0-9_-]+)\s*$/.exec(line)
    if (match !== null) found.push({ name: match[1]!.toLowerCase(), line: index + 1 })
  }
  return found
}

const transactionControl =
  /^(begin|commit|rollback|end|abort|start\s+transaction|savepoint|release|prepare\s+transaction|commit\s+prepared|rollback\s+prepared)\b/i

/**
 * The statements of `text` that control transactions (`BEGIN`, `COMMIT`, ...). A
 * PL/pgSQL body's `BEGIN` is inside a dollar quote and never seen here.
 */
export const transactionControlStatements = (text: string): Array<Statement> =>
  split(text).filter((statement) => {
    // `BEGIN ATOMIC` bodies and PL/pgSQL blocks stay inside their CREATE statement.
    return transactionControl.test(stripComments(statement.text).trim())
  })
