package dbscript

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
)

// sqliteDialect reads and writes SQLite; it caches what the pragmas say of each
// table (see list), so one belongs to one Runner.
type sqliteDialect struct {
	mu    sync.Mutex
	cache map[sqliteTable][]Object // table and CREATE statement → its pragma objects
	norm  map[sqliteRow][]Object   // row of sqlite_schema → what its statement says, normalised
	last  int                      // objects in the last listing
}

func (*sqliteDialect) sqlDriver() string { return "sqlite" }
func (*sqliteDialect) ph(int) string     { return "?" }

func (*sqliteDialect) begin(context.Context, *sql.Tx, string, string, time.Duration) error {
	return nil
}
func (*sqliteDialect) beginRead(context.Context, *sql.Tx, string) error { return nil }

func (*sqliteDialect) qualify(_, table string) string { return quoteIdent(table) }

func (*sqliteDialect) createHistory(_, table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + quoteIdent(table) + ` (
	number INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	sha256 TEXT NOT NULL,
	mode TEXT NOT NULL CHECK (mode IN ('auto', 'manual', 'marked')),
	fingerprint_before TEXT NOT NULL,
	fingerprint_after TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`
}

func (*sqliteDialect) historyExists(ctx context.Context, q querier, _, table string) (bool, error) {
	found := false
	err := collect(ctx, q, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name = ?`, []any{table}, 1, func([]string) { found = true })
	return found, err
}

func (*sqliteDialect) blank(ctx context.Context, q querier, _, table string) (bool, error) {
	found := false
	err := collect(ctx, q, `SELECT 1 FROM sqlite_schema WHERE tbl_name <> ? AND name NOT LIKE 'sqlite\_%' ESCAPE '\' LIMIT 1`, []any{table}, 1, func([]string) { found = true })
	return !found, err
}

// sqliteRow is a row of sqlite_schema, the key of what its statement says.
type sqliteRow struct{ typ, name, table, sql string }

// sqliteTable is a table and its CREATE statement, the key of what its pragmas say.
type sqliteTable struct{ name, create string }

// list reads sqlite_schema, then the pragmas of the tables (columns, keys, foreign
// keys), in one query over the tables asked for. What the pragmas say of a table is a
// function of its CREATE statement, which SQLite rewrites on every change of the
// table (ALTER TABLE included): it is cached per statement, so that reading the
// schema after each script costs the pragmas of the tables the script changed only.
func (d *sqliteDialect) list(ctx context.Context, q querier, _, table string) ([]Object, error) {
	objs := make([]Object, 0, d.last+d.last/8)
	creates := map[string]string{}   // table → its CREATE statement
	autoindexed := map[string]bool{} // tables with an index of a UNIQUE or PRIMARY KEY constraint
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cache == nil {
		d.cache, d.norm = map[sqliteTable][]Object{}, map[sqliteRow][]Object{}
	}
	// The indexes SQLite makes for UNIQUE and PRIMARY KEY constraints have a row
	// without SQL, named sqlite_autoindex_…: they tell which tables have keys.
	err := sqliteCollect(ctx, q, `SELECT type AS c0, name AS c1, tbl_name AS c2, sql AS c3, sql IS NULL AS c4 FROM sqlite_schema
		WHERE tbl_name <> ? AND (name NOT LIKE 'sqlite\_%' ESCAPE '\' AND sql IS NOT NULL OR type = 'index' AND sql IS NULL)`, []any{table}, 5, func(r []string) {
		if r[4] == "1" {
			autoindexed[strings.Clone(r[2])] = true
			return
		}
		if r[0] == "table" {
			creates[r[1]] = r[3]
		}
		// Normalising every statement at every listing is most of its cost: the
		// objects a statement gives are kept by the statement (and type and names).
		k := sqliteRow{r[0], r[1], r[2], r[3]}
		if got, ok := d.norm[k]; ok {
			objs = append(objs, got...)
			return
		}
		// The strings kept are copies: r's may share the memory of the whole result.
		k = sqliteRow{strings.Clone(r[0]), strings.Clone(r[1]), strings.Clone(r[2]), strings.Clone(r[3])}
		start := len(objs)
		switch k.typ {
		case "table":
			def, checks := tableParts(k.sql)
			objs = append(objs, Object{Kind: "table", Name: k.name, Definition: def})
			for _, c := range checks {
				objs = append(objs, Object{Kind: "constraint", Name: k.name + "." + c, Table: k.name, Definition: c})
			}
		case "index":
			objs = append(objs, Object{Kind: k.typ, Name: k.name, Table: k.table, Definition: normaliseSQL(k.sql)})
		case "trigger":
			// Named as PostgreSQL's, whose trigger names are unique per table only.
			objs = append(objs, Object{Kind: k.typ, Name: k.table + "." + k.name, Table: k.table, Definition: normaliseSQL(k.sql)})
		case "view":
			objs = append(objs, Object{Kind: k.typ, Name: k.name, Definition: normaliseSQL(k.sql)})
		}
		d.norm[k] = slices.Clone(objs[start:])
	})
	if err != nil {
		return nil, fmt.Errorf("dbscript: read sqlite_schema: %w", err)
	}
	var missing []string
	for name, create := range creates {
		if _, ok := d.cache[sqliteTable{name, create}]; !ok {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	for len(missing) > 0 {
		n := min(len(missing), 300)
		var keyed, referring []string
		for _, name := range missing[:n] {
			keys, fks := sqliteKeys(creates[name], autoindexed[name])
			if keys {
				keyed = append(keyed, name)
			}
			if fks {
				referring = append(referring, name)
			}
		}
		got, err := sqlitePragmas(ctx, q, missing[:n], keyed, referring)
		if err != nil {
			return nil, err
		}
		for _, name := range missing[:n] {
			d.cache[sqliteTable{name, creates[name]}] = got[name]
		}
		missing = missing[n:]
	}
	for name, create := range creates {
		objs = append(objs, d.cache[sqliteTable{name, create}]...)
	}
	d.last = len(objs)
	return objs, nil
}

// sqliteKeys tells which pragmas can say something of a table beyond its columns,
// from its CREATE statement and whether it has an automatic index (see list):
// index_list, when the table may have a UNIQUE or PRIMARY KEY constraint, and
// foreign_key_list, when it may have a foreign key. SQLite declares a foreign key
// with the keyword REFERENCES alone, matched without regard to ASCII case; the index
// of a UNIQUE or PRIMARY KEY constraint has its automatic index row, but for the
// primary key of a table WITHOUT ROWID, which is the table.
func sqliteKeys(create string, autoindexed bool) (keys, fks bool) {
	return autoindexed || containsFoldASCII(create, "without"), containsFoldASCII(create, "references")
}

// sqliteCollect is collect for SQLite, of a query whose n columns are named c0 …
// c(n-1), its rows in any order. The rows come back as one
// value, joined by group_concat with the ASCII unit separator between fields and the
// record separator between rows: the driver's cost is by value read, and a schema
// has hundreds of rows. Values that hold a separator would split into more rows than
// the query has, or a row into more fields than n: then, and only then, the query is
// read row by row.
func sqliteCollect(ctx context.Context, q querier, query string, args []any, n int, row func([]string)) error {
	const unit, record = "\x1f", "\x1e"
	cols := make([]string, n)
	for i := range cols {
		cols[i] = "ifnull(c" + strconv.Itoa(i) + ", '')"
	}
	all := "SELECT count(*), group_concat(" + strings.Join(cols, " || '"+unit+"' || ") + ", '" + record + "') FROM (" + query + ")"
	var count, joined string
	if err := collect(ctx, q, all, args, 2, func(r []string) { count, joined = r[0], r[1] }); err != nil {
		return err
	}
	var rows [][]string
	if count != "0" {
		for r := range strings.SplitSeq(joined, record) {
			f := strings.Split(r, unit)
			if len(f) != n {
				rows = nil
				break
			}
			rows = append(rows, f)
		}
	}
	if strconv.Itoa(len(rows)) != count {
		for i := range cols {
			cols[i] = "c" + strconv.Itoa(i)
		}
		return collect(ctx, q, "SELECT "+strings.Join(cols, ", ")+" FROM ("+query+")", args, n, row)
	}
	for _, r := range rows {
		row(r)
	}
	return nil
}

// sqlitePragmas reads the pragmas of the tables names, in one query: their columns,
// and the unique and primary keys of those keyed, the foreign keys of those
// referring (see sqliteKeys), by table.
func sqlitePragmas(ctx context.Context, q querier, names, keyed, referring []string) (map[string][]Object, error) {
	var args []any
	where := func(names []string) string {
		for _, n := range names {
			args = append(args, n)
		}
		return `FROM sqlite_schema m WHERE m.type = 'table' AND m.name IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ") + `)`
	}
	// Each row is a kind (x: a column, i: a column of a unique or primary key, f: a
	// column of a foreign key), the table, then the kind's fields, the last the
	// column's place in its key. Keys are put in order here: an ORDER BY would cost
	// SQLite a sorter.
	query := `SELECT 'x' AS c0, m.name AS c1, p.name AS c2, p.type AS c3, p."notnull" AS c4, p.dflt_value AS c5, p.pk AS c6, p.hidden AS c7, '' AS c8, 0 AS c9
		FROM (SELECT m.name ` + where(names) + `) m JOIN pragma_table_xinfo(m.name) p`
	if len(keyed) > 0 {
		query += `
	UNION ALL SELECT 'i', m.name, il.name, il.origin, ii.name, '', '', '', '', ii.seqno
		FROM (SELECT m.name ` + where(keyed) + `) m JOIN pragma_index_list(m.name) il JOIN pragma_index_info(il.name) ii
		WHERE il.origin <> 'c'`
	}
	if len(referring) > 0 {
		query += `
	UNION ALL SELECT 'f', m.name, f.id, f."table", f."from", f."to", f.on_update, f.on_delete, f."match", f.seq
		FROM (SELECT m.name ` + where(referring) + `) m JOIN pragma_foreign_key_list(m.name) f`
	}
	out := map[string][]Object{}
	type key struct{ table, index string }
	cons := map[key]*Object{}
	var order []key
	type fk struct {
		table, id string
	}
	fks := map[fk]*[4]string{}
	var fkOrder []fk
	var keys [][]string
	err := sqliteCollect(ctx, q, query, args, 10, func(r []string) {
		if r[0] != "x" {
			keys = append(keys, slices.Clone(r))
			return
		}
		def := strings.ToUpper(strings.Join(strings.Fields(r[3]), " "))
		if r[4] == "1" {
			def += " NOT NULL"
		}
		if r[5] != "" {
			def += " DEFAULT " + normaliseSQL(r[5])
		}
		if r[6] != "0" {
			def += " PRIMARY KEY " + r[6]
		}
		if r[7] != "0" {
			def += " HIDDEN " + r[7]
		}
		t := strings.Clone(r[1])
		out[t] = append(out[t], Object{Kind: "column", Name: t + "." + r[2], Table: t, Definition: def})
	})
	if err != nil {
		return nil, fmt.Errorf("dbscript: read the pragmas of tables: %w", err)
	}
	// In order of kind, table, key (index name, or foreign key id as a number), then
	// the column's place in it.
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	slices.SortFunc(keys, func(a, b []string) int {
		c := cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
		if a[0] == "f" {
			c = cmp.Or(c, cmp.Compare(num(a[2]), num(b[2])))
		} else {
			c = cmp.Or(c, strings.Compare(a[2], b[2]))
		}
		return cmp.Or(c, cmp.Compare(num(a[9]), num(b[9])))
	})
	for _, r := range keys {
		switch r[0] {
		case "i":
			// Unique and primary key constraints are indexes without SQL of their own.
			k := key{r[1], r[2]}
			o := cons[k]
			if o == nil {
				kind := "UNIQUE"
				if r[3] == "pk" {
					kind = "PRIMARY KEY"
				}
				k = key{strings.Clone(r[1]), strings.Clone(r[2])}
				o = &Object{Kind: "constraint", Table: k.table, Definition: kind + " ("}
				cons[k] = o
				order = append(order, k)
			} else {
				o.Definition += ","
			}
			o.Definition += r[4]
		case "f":
			k := fk{r[1], r[2]}
			v := fks[k]
			if v == nil {
				v = &[4]string{strings.Clone(r[3]), "", "", fmt.Sprintf(" ON UPDATE %s ON DELETE %s MATCH %s", r[6], r[7], r[8])}
				k = fk{strings.Clone(r[1]), strings.Clone(r[2])}
				fks[k] = v
				fkOrder = append(fkOrder, k)
			} else {
				v[1] += ","
				v[2] += ","
			}
			v[1] += r[4]
			v[2] += r[5]
		}
	}
	for _, k := range order {
		o := cons[k]
		o.Definition += ")"
		o.Name = k.table + "." + o.Definition
		out[k.table] = append(out[k.table], *o)
	}
	for _, k := range fkOrder {
		v := fks[k]
		def := "FOREIGN KEY (" + v[1] + ") REFERENCES " + v[0] + "(" + v[2] + ")" + v[3]
		out[k.table] = append(out[k.table], Object{Kind: "constraint", Name: k.table + ".FOREIGN KEY (" + v[1] + ") REFERENCES " + v[0], Table: k.table, Definition: def})
	}
	return out, nil
}

// containsFoldASCII reports whether s holds word (lower case) in any ASCII case:
// how SQLite matches keywords.
func containsFoldASCII(s, word string) bool {
	for i := 0; i+len(word) <= len(s); i++ {
		j := 0
		for j < len(word) && s[i+j]|0x20 == word[j] {
			j++
		}
		if j == len(word) {
			return true
		}
	}
	return false
}

// tableParts returns what a CREATE TABLE says after its column list (WITHOUT ROWID,
// STRICT) and its CHECK constraints, normalised: the rest is read from the pragmas.
func tableParts(create string) (string, []string) {
	s := normaliseSQL(create)
	open := strings.IndexByte(s, '(')
	if open < 0 {
		return "", nil
	}
	var checks []string
	depth, end := 0, len(s)
	for i := open; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' || c == '"' || c == '`':
			i = skipQuoted(s, i, c, false) - 1
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				end = i
				i = len(s)
			}
		case depth == 1 && (c == 'C' || c == 'c') && strings.EqualFold(safeSlice(s, i, i+5), "CHECK") && !isWord(s[i-1]) && i+5 < len(s) && !isWord(s[i+5]):
			j := strings.IndexByte(s[i:], '(')
			if j < 0 {
				continue
			}
			k, d := i+j, 0
			for ; k < len(s); k++ {
				if s[k] == '\'' || s[k] == '"' {
					k = skipQuoted(s, k, s[k], false) - 1
					continue
				}
				if s[k] == '(' {
					d++
				} else if s[k] == ')' {
					d--
					if d == 0 {
						break
					}
				}
			}
			if k < len(s) {
				checks = append(checks, "CHECK "+s[i+j:k+1])
			}
		}
	}
	if end >= len(s) {
		return "", checks
	}
	return strings.TrimSpace(strings.ToUpper(s[end+1:])), checks
}

func safeSlice(s string, i, j int) string {
	if j > len(s) {
		return ""
	}
	return s[i:j]
}

// timedOut: SQLite has no time limit of its own (the client's interrupts).
func (*sqliteDialect) timedOut(error) bool { return false }

func (*sqliteDialect) lineOf(err error, _ string) (int, string) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return 0, se.Error()
	}
	return 0, err.Error()
}

// quoteIdent quotes an identifier for SQLite and PostgreSQL alike.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
