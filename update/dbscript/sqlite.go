package dbscript

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
)

// sqliteDialect reads and writes SQLite; it caches what the pragmas say of each
// table (see list), so one belongs to one Runner.
type sqliteDialect struct {
	mu    sync.Mutex
	cache map[string][]Object // table name + "\x00" + CREATE statement → its pragma objects
	norm  map[string][]Object // CREATE statement of any object → what it says, normalised
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

// list reads sqlite_schema, then the pragmas of the tables (columns, keys, foreign
// keys), each as one query over the tables asked for. What the pragmas say of a table
// is a function of its CREATE statement, which SQLite rewrites on every change of the
// table (ALTER TABLE included): it is cached per statement, so that reading the
// schema after each script costs the pragmas of the tables the script changed only.
func (d *sqliteDialect) list(ctx context.Context, q querier, _, table string) ([]Object, error) {
	var objs []Object
	creates := map[string]string{} // table → its CREATE statement
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cache == nil {
		d.cache, d.norm = map[string][]Object{}, map[string][]Object{}
	}
	err := collect(ctx, q, `SELECT type, name, tbl_name, sql FROM sqlite_schema
		WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\' AND tbl_name <> ? AND sql IS NOT NULL`, []any{table}, 4, func(r []string) {
		if r[0] == "table" {
			creates[r[1]] = r[3]
		}
		// Normalising every statement at every listing is most of its cost: the
		// objects a statement gives are kept by the statement (and type and names).
		k := r[0] + "\x00" + r[1] + "\x00" + r[2] + "\x00" + r[3]
		if got, ok := d.norm[k]; ok {
			objs = append(objs, got...)
			return
		}
		start := len(objs)
		switch r[0] {
		case "table":
			def, checks := tableParts(r[3])
			objs = append(objs, Object{Kind: "table", Name: r[1], Definition: def})
			for _, c := range checks {
				objs = append(objs, Object{Kind: "constraint", Name: r[1] + "." + c, Table: r[1], Definition: c})
			}
		case "index":
			objs = append(objs, Object{Kind: r[0], Name: r[1], Table: r[2], Definition: normaliseSQL(r[3])})
		case "trigger":
			// Named as PostgreSQL's, whose trigger names are unique per table only.
			objs = append(objs, Object{Kind: r[0], Name: r[2] + "." + r[1], Table: r[2], Definition: normaliseSQL(r[3])})
		case "view":
			objs = append(objs, Object{Kind: r[0], Name: r[1], Definition: normaliseSQL(r[3])})
		}
		d.norm[k] = slices.Clone(objs[start:])
	})
	if err != nil {
		return nil, fmt.Errorf("dbscript: read sqlite_schema: %w", err)
	}
	key := func(name string) string { return name + "\x00" + creates[name] }
	var missing []string
	for name := range creates {
		if _, ok := d.cache[key(name)]; !ok {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	for len(missing) > 0 {
		n := min(len(missing), 500)
		got, err := sqlitePragmas(ctx, q, missing[:n])
		if err != nil {
			return nil, err
		}
		for _, name := range missing[:n] {
			d.cache[key(name)] = got[name]
		}
		missing = missing[n:]
	}
	for name := range creates {
		objs = append(objs, d.cache[key(name)]...)
	}
	return objs, nil
}

// sqlitePragmas reads the pragmas of the tables names: their columns, unique and
// primary keys, and foreign keys, by table.
func sqlitePragmas(ctx context.Context, q querier, names []string) (map[string][]Object, error) {
	out := map[string][]Object{}
	in := strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ")
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = n
	}
	const from = `FROM sqlite_schema m `
	where := `WHERE m.type = 'table' AND m.name IN (` + in + `)`
	err := collect(ctx, q, `SELECT m.name, p.name, p.type, p."notnull", p.dflt_value, p.pk, p.hidden
		`+from+`JOIN pragma_table_xinfo(m.name) p `+where, args, 7, func(r []string) {
		def := strings.ToUpper(strings.Join(strings.Fields(r[2]), " "))
		if r[3] == "1" {
			def += " NOT NULL"
		}
		if r[4] != "" {
			def += " DEFAULT " + normaliseSQL(r[4])
		}
		if r[5] != "0" {
			def += " PRIMARY KEY " + r[5]
		}
		if r[6] != "0" {
			def += " HIDDEN " + r[6]
		}
		out[r[0]] = append(out[r[0]], Object{Kind: "column", Name: r[0] + "." + r[1], Table: r[0], Definition: def})
	})
	if err != nil {
		return nil, fmt.Errorf("dbscript: read table_xinfo: %w", err)
	}
	// Unique and primary key constraints are indexes without SQL of their own.
	type key struct{ table, index string }
	cons := map[key]*Object{}
	var order []key
	err = collect(ctx, q, `SELECT m.name, il.name, il.origin, ii.name
		`+from+`JOIN pragma_index_list(m.name) il JOIN pragma_index_info(il.name) ii
		`+where+` AND il.origin <> 'c' ORDER BY m.name, il.name, ii.seqno`, args, 4, func(r []string) {
		k := key{r[0], r[1]}
		o := cons[k]
		if o == nil {
			kind := "UNIQUE"
			if r[2] == "pk" {
				kind = "PRIMARY KEY"
			}
			o = &Object{Kind: "constraint", Table: r[0], Definition: kind + " ("}
			cons[k] = o
			order = append(order, k)
		} else {
			o.Definition += ","
		}
		o.Definition += r[3]
	})
	if err != nil {
		return nil, fmt.Errorf("dbscript: read index_list: %w", err)
	}
	for _, k := range order {
		o := cons[k]
		o.Definition += ")"
		o.Name = k.table + "." + o.Definition
		out[k.table] = append(out[k.table], *o)
	}
	type fk struct {
		table, id string
	}
	fks := map[fk]*[4]string{}
	var fkOrder []fk
	err = collect(ctx, q, `SELECT m.name, f.id, f."table", f."from", f."to", f.on_update, f.on_delete, f."match"
		`+from+`JOIN pragma_foreign_key_list(m.name) f
		`+where+` ORDER BY m.name, f.id, f.seq`, args, 8, func(r []string) {
		k := fk{r[0], r[1]}
		v := fks[k]
		if v == nil {
			v = &[4]string{r[2], "", "", fmt.Sprintf(" ON UPDATE %s ON DELETE %s MATCH %s", r[5], r[6], r[7])}
			fks[k] = v
			fkOrder = append(fkOrder, k)
		} else {
			v[1] += ","
			v[2] += ","
		}
		v[1] += r[3]
		v[2] += r[4]
	})
	if err != nil {
		return nil, fmt.Errorf("dbscript: read foreign_key_list: %w", err)
	}
	for _, k := range fkOrder {
		v := fks[k]
		def := "FOREIGN KEY (" + v[1] + ") REFERENCES " + v[0] + "(" + v[2] + ")" + v[3]
		out[k.table] = append(out[k.table], Object{Kind: "constraint", Name: k.table + ".FOREIGN KEY (" + v[1] + ") REFERENCES " + v[0], Table: k.table, Definition: def})
	}
	return out, nil
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

func (*sqliteDialect) lineOf(err error, _ string) (int, string) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return 0, se.Error()
	}
	return 0, err.Error()
}

// quoteIdent quotes an identifier for SQLite and PostgreSQL alike.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
