"""The statement check: one statement, of a reading kind, lexed the way ClickHouse lexes it."""

from __future__ import annotations

import re

import pytest

from driftline.query.statement import StatementError, TokenKind, check_statement, tokens


@pytest.mark.parametrize(
    ("sql", "text", "kind"),
    [
        ("SELECT 1", "SELECT 1", "SELECT"),
        ("  select 1 ;; ", "select 1", "SELECT"),
        ("SELECT 1; -- trailing comment", "SELECT 1", "SELECT"),
        ("-- leading\nSELECT 1 /* tail */", "SELECT 1", "SELECT"),
        ("WITH 1 AS x SELECT x", "WITH 1 AS x SELECT x", "WITH"),
        ("(SELECT 1) UNION ALL (SELECT 2)", "(SELECT 1) UNION ALL (SELECT 2)", "("),
        ("SHOW TABLES", "SHOW TABLES", "SHOW"),
        ("desc t", "desc t", "DESC"),
        ("DESCRIBE TABLE t", "DESCRIBE TABLE t", "DESCRIBE"),
        ("EXPLAIN SELECT 1", "EXPLAIN SELECT 1", "EXPLAIN"),
        ("EXISTS TABLE t", "EXISTS TABLE t", "EXISTS"),
        ("SELECT 'a;b', \"c;d\", `e;f`", "SELECT 'a;b', \"c;d\", `e;f`", "SELECT"),
        ("SELECT 'it''s;', 'x\\';y'", "SELECT 'it''s;', 'x\\';y'", "SELECT"),
        ("SELECT $$a;b$$, $t$c;d$t$", "SELECT $$a;b$$, $t$c;d$t$", "SELECT"),
        ("SELECT 1 /* a /* nested; */ still; */", "SELECT 1", "SELECT"),
        ("SELECT 1 #!shebang; comment", "SELECT 1", "SELECT"),
        ("SELECT 1 # comment; here", "SELECT 1", "SELECT"),
        ("SELECT format FROM t", "SELECT format FROM t", "SELECT"),
        ("SELECT 'INSERT INTO x' AS s", "SELECT 'INSERT INTO x' AS s", "SELECT"),
    ],
)
def test_accepted_statements_are_trimmed_to_their_last_token(
    sql: str, text: str, kind: str
) -> None:
    statement = check_statement(sql)
    assert (statement.text, statement.kind) == (text, kind)


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("", "empty"),
        (" ; -- nothing", "empty"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("SELECT 1; DROP TABLE t", "one statement"),
        ("SELECT 1 /* c */; INSERT INTO t VALUES (1)", "one statement"),
        ("SELECT $a;b$x$a;b$", "one statement"),  # `$a;b$` is no heredoc tag
        ("SELECT 1e--5; DROP TABLE t", "one statement"),  # `1e-` swallows the sign
        ("INSERT INTO t VALUES (1)", "not a read-only statement"),
        ("CREATE TABLE t (x UInt8) ENGINE = Memory", "not a read-only statement"),
        ("DROP TABLE t", "not a read-only statement"),
        ("ALTER TABLE t DELETE WHERE 1", "not a read-only statement"),
        ("SET max_threads = 1", "not a read-only statement"),
        ("KILL QUERY WHERE 1", "not a read-only statement"),
        ("USE other", "not a read-only statement"),
        ("SYSTEM SHUTDOWN", "not a read-only statement"),
        ("BACKUP TABLE t TO File('x')", "not a read-only statement"),
        ("WITH 1 AS x INSERT INTO t SELECT x", "INSERT INTO is not allowed"),
        ("SELECT 1 INTO OUTFILE '/tmp/x'", "INTO OUTFILE is not allowed"),
        ("SELECT 1 into /* c */ outfile '/tmp/x'", "INTO OUTFILE is not allowed"),
        ("SELECT 1 PARALLEL WITH SELECT 2", "PARALLEL WITH is not allowed"),
        ("SELECT 1 FORMAT JSON", "FORMAT is not allowed"),
        ("SELECT 1 FORMAT JSON SETTINGS max_threads = 1", "FORMAT is not allowed"),
        ("SELECT 'unterminated", "unterminated string"),
        ('SELECT "unterminated', "unterminated quoted identifier"),
        ("SELECT 1 /* open", "unterminated /* comment"),
        ("SELECT $x$ open", "unterminated heredoc"),
    ],
)
def test_refused_statements_say_why(sql: str, why: str) -> None:
    with pytest.raises(StatementError, match=re.escape(why)):
        check_statement(sql)


def test_tokens_skip_comments_and_keep_literals_whole() -> None:
    sql = "SELECT -- c\n'a;b' /* x */ , `q` , 0x1F, 1.5e-3 ;"
    kinds = [(t.kind, t.text) for t in tokens(sql)]
    assert kinds == [
        (TokenKind.WORD, "SELECT"),
        (TokenKind.STRING, "'a;b'"),
        (TokenKind.PUNCT, ","),
        (TokenKind.QUOTED, "`q`"),
        (TokenKind.PUNCT, ","),
        (TokenKind.NUMBER, "0x1F"),
        (TokenKind.PUNCT, ","),
        (TokenKind.NUMBER, "1.5e-3"),
        (TokenKind.SEMICOLON, ";"),
    ]
