package reset

import "strings"

// effect is what a statement may have done to a MySQL session.
type effect uint8

const (
	// effectNone: the statement leaves the session as it found it. Data
	// changes and per-statement results (LAST_INSERT_ID, ROW_COUNT,
	// FOUND_ROWS, warnings) are not session state.
	effectNone effect = iota
	// effectDirty: the session may differ from a fresh one (a SET, a
	// temporary table, a lock, a user variable, a transaction opened in
	// SQL, anything not known to be harmless); a reset restores it.
	effectDirty
	// effectUse: a USE (or a DROP DATABASE, which may drop the current
	// one) changed the default database. Like effectDirty, and when the
	// config names no database only a new connection undoes it.
	effectUse
)

// harmless are the statements that change no session state when they hold
// none of the tokens in risky.
var harmless = map[string]bool{
	"SELECT": true, "INSERT": true, "UPDATE": true, "DELETE": true,
	"REPLACE": true, "WITH": true, "VALUES": true, "TABLE": true,
	"SHOW": true, "DESCRIBE": true, "DESC": true, "EXPLAIN": true,
	"ANALYZE": true, "CHECKSUM": true,
	// DDL commits implicitly and changes no session state, unless it is
	// about a TEMPORARY table (a risky token).
	"CREATE": true, "ALTER": true, "DROP": true, "TRUNCATE": true, "RENAME": true,
}

// maxHarmless is the length of the longest word in harmless.
const maxHarmless = len("DESCRIBE")

// upperWord returns w upper-cased. Classify runs on every statement, and
// most are written in lower case: an ASCII word that fits buf is
// upper-cased into it without allocating; any other goes through
// strings.ToUpper, whose Unicode folding (ſ is S) MySQL's keywords follow
// too.
func upperWord(w string, buf *[maxHarmless]byte) []byte {
	if len(w) > len(buf) {
		return []byte(strings.ToUpper(w))
	}
	b := buf[:len(w)]
	for i := range len(w) {
		c := w[i]
		switch {
		case c >= 0x80:
			return []byte(strings.ToUpper(w))
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		b[i] = c
	}
	return b
}

// risky are the words that make an otherwise harmless statement dirty:
// temporary tables, named locks, and setting LAST_INSERT_ID or a variable.
var risky = []string{"TEMPORARY", "GET_LOCK", "RELEASE_LOCK", "RELEASE_ALL_LOCKS", "LAST_INSERT_ID", "SETVAL", "NEXTVAL", "LASTVAL"}

// classify says what query may do to the session, conservatively: a
// statement it does not know as harmless is dirty. It reads the query as
// MySQL does: comments and quoted strings are skipped, keywords are case
// insensitive, and a second statement after a ';' is dirty.
//
// How a query reads depends on the server's sql_mode, which a session or
// the server's own config may set without the DSN showing it. With
// ANSI_QUOTES a double-quoted text is an identifier, which can name a
// function ("GET_LOCK"(...)): double-quoted text is always read as a word
// too, which at worst makes a string that spells a risky word dirty. With
// NO_BACKSLASH_ESCAPES a backslash escapes nothing, and under ANSI_QUOTES
// it escapes nothing in double quotes: where a string ends then differs
// between readings only when the query holds a backslash, so such a query
// is read each way, and is dirty if any reading finds it so.
func classify(query string) effect {
	if strings.IndexByte(query, '\\') < 0 {
		return classifyMode(query, escapesEverywhere)
	}
	e := max(classifyMode(query, escapesEverywhere), classifyMode(query, escapesNowhere))
	if strings.IndexByte(query, '"') >= 0 { // else ANSI_QUOTES reads it as the default does
		e = max(e, classifyMode(query, escapesInSingleQuotes))
	}
	return e
}

// escapes says in which quoted texts a backslash escapes the next byte.
type escapes uint8

const (
	escapesEverywhere     escapes = iota // the default sql_mode
	escapesInSingleQuotes                // ANSI_QUOTES: "..." is an identifier
	escapesNowhere                       // NO_BACKSLASH_ESCAPES
)

// classifyMode is classify for one reading of backslashes.
func classifyMode(query string, esc escapes) effect {
	l := lexer{s: query, esc: esc}
	var buf [maxHarmless]byte
	first := upperWord(l.word(), &buf)
	switch {
	case string(first) == "USE":
		return effectUse
	case string(first) == "DROP":
		// Dropping the current database leaves the session with none.
		if w := l.peekWord(); strings.EqualFold(w, "DATABASE") || strings.EqualFold(w, "SCHEMA") {
			return effectUse
		}
	case !harmless[string(first)]: // string([]byte) as a map key: no allocation
		return effectDirty
	}
	for {
		tok, kind := l.next()
		switch kind {
		case tokEOF:
			return effectNone
		case tokUserVar, tokSemicolon:
			return effectDirty
		case tokWord:
			if strings.EqualFold(tok, "NEXT") || strings.EqualFold(tok, "PREVIOUS") {
				if w := l.peekWord(); strings.EqualFold(w, "VALUE") {
					return effectDirty // NEXT VALUE FOR seq sets the session's PREVIOUS VALUE
				}
			}
			if strings.EqualFold(tok, "LAST_INSERT_ID") && l.emptyParens() {
				continue // reading it is harmless; LAST_INSERT_ID(expr) sets it
			}
			for _, r := range risky {
				if strings.EqualFold(tok, r) {
					return effectDirty
				}
			}
		}
	}
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokWord
	tokUserVar   // @name, @'name', @`name`: a user variable (@@x is a system variable: harmless to read)
	tokSemicolon // followed by another statement
	tokOther
)

// lexer splits MySQL text into the tokens classify needs.
type lexer struct {
	s   string
	i   int
	esc escapes
}

// peekWord returns the next token if it is a word, without consuming it.
func (l *lexer) peekWord() string {
	save := l.i
	tok, kind := l.next()
	l.i = save
	if kind != tokWord {
		return ""
	}
	return tok
}

// word skips space and comments and returns the first word.
func (l *lexer) word() string {
	tok, kind := l.next()
	if kind != tokWord {
		return ""
	}
	return tok
}

func (l *lexer) next() (string, tokKind) {
	l.skipSpace()
	if l.i >= len(l.s) {
		return "", tokEOF
	}
	c := l.s[l.i]
	switch {
	case isWordByte(c):
		start := l.i
		for l.i < len(l.s) && isWordByte(l.s[l.i]) {
			l.i++
		}
		return l.s[start:l.i], tokWord
	case c == '`' || c == '"':
		// A quoted identifier can name a function as well as a bare word
		// can: `GET_LOCK`('x', 0) takes a lock, and so does "GET_LOCK"(...)
		// under ANSI_QUOTES, where double quotes make identifiers.
		start := l.i + 1
		l.skipQuoted(c)
		return l.s[start:max(start, l.i-1)], tokWord
	case c == '\'':
		l.skipQuoted(c)
		return "", tokOther
	case c == '@':
		l.i++
		if l.i < len(l.s) && l.s[l.i] == '@' {
			l.i++
			return "", tokOther
		}
		return "", tokUserVar
	case c == ';':
		l.i++
		if l.skipSpace(); l.i < len(l.s) {
			return "", tokSemicolon
		}
		return "", tokEOF
	}
	l.i++
	return "", tokOther
}

// emptyParens consumes "()" (with space or comments inside) and reports
// whether it was there.
func (l *lexer) emptyParens() bool {
	save := l.i
	if _, k := l.next(); k != tokOther || l.s[l.i-1] != '(' {
		l.i = save
		return false
	}
	if _, k := l.next(); k != tokOther || l.s[l.i-1] != ')' {
		l.i = save
		return false
	}
	return true
}

// skipSpace skips white space and comments: /* */, # and -- followed by a
// space or a control character, each to the end of its line (\n; a \r is
// inside it), as MySQL's and MariaDB's lexers have them: a comment read
// shorter or longer than the server reads it could hide code in what
// looks like a string. A MySQL-specific /*! ... */ comment is code that
// MySQL runs: its body is read as text.
func (l *lexer) skipSpace() {
	for l.i < len(l.s) {
		switch c := l.s[l.i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			l.i++
		case strings.HasPrefix(l.s[l.i:], "/*!") || strings.HasPrefix(l.s[l.i:], "/*M!"):
			l.skipVersion(strings.IndexByte(l.s[l.i:], '!') + 1)
		case strings.HasPrefix(l.s[l.i:], "/*"):
			end := strings.Index(l.s[l.i+2:], "*/")
			if end < 0 {
				l.i = len(l.s)
				return
			}
			l.i += 2 + end + 2
		case c == '#' || l.lineComment():
			end := strings.IndexByte(l.s[l.i:], '\n')
			if end < 0 {
				l.i = len(l.s)
				return
			}
			l.i += end + 1
		case c == '*' && strings.HasPrefix(l.s[l.i:], "*/"):
			l.i += 2 // the end of a /*! comment
		default:
			return
		}
	}
}

// lineComment reports whether a -- comment starts at l.i: two dashes
// followed by the end of the query, a space or a control character.
func (l *lexer) lineComment() bool {
	if !strings.HasPrefix(l.s[l.i:], "--") {
		return false
	}
	if l.i+2 == len(l.s) {
		return true
	}
	c := l.s[l.i+2]
	return c <= ' ' || c == 0x7f
}

// skipQuoted skips a string or identifier quoted with q, with doubled quotes
// and backslash escapes (as the reading has them) inside.
func (l *lexer) skipQuoted(q byte) {
	escaped := q == '\'' && l.esc != escapesNowhere || q == '"' && l.esc == escapesEverywhere
	l.i++
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case c == '\\' && escaped:
			l.i += 2
		case c == q && l.i+1 < len(l.s) && l.s[l.i+1] == q:
			l.i += 2
		case c == q:
			l.i++
			return
		default:
			l.i++
		}
	}
}

// skipVersion skips the opener of an executable comment, n bytes, and the
// version number after it, so that its statement is read from its first
// word: /*!40000 DROP DATABASE x*/ as mysqldump writes it.
func (l *lexer) skipVersion(n int) {
	l.i += n
	for l.i < len(l.s) && '0' <= l.s[l.i] && l.s[l.i] <= '9' {
		l.i++
	}
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
