package dbscript

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
)

// Object is one schema object of a canonical listing.
type Object struct {
	// Kind is table, column, index, constraint, view, materialized view, sequence,
	// function, procedure or trigger.
	Kind string `json:"kind"`
	// Name is the object's name; a column is "table.column", a constraint
	// "table.name", a function "name(argument types)".
	Name string `json:"name"`
	// Table is the table an object belongs to (column, index, constraint, trigger).
	Table string `json:"table,omitempty"`
	// Definition is the object's definition in a canonical form: a column's type,
	// nullability and default; a view's, index's, trigger's or function's
	// definition as the catalog gives it, white space normalised.
	Definition string `json:"definition"`
}

// Key is how drift reports name the object: "column orders.note".
func (o Object) Key() string { return o.Kind + " " + o.Name }

// Listing is the canonical listing of a schema and its fingerprint.
type Listing struct {
	Driver      Driver   `json:"driver"`
	Fingerprint string   `json:"fingerprint"`
	Objects     []Object `json:"objects"`
}

// newListing sorts the objects and computes the fingerprint: the SHA-256 of one line
// "kind\tname\tdefinition\n" per object, in order.
func newListing(d Driver, objs []Object) *Listing {
	slices.SortFunc(objs, func(a, b Object) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	if objs == nil {
		objs = []Object{}
	}
	return &Listing{Driver: d, Fingerprint: fingerprintOf(objs), Objects: objs}
}

func fingerprintOf(objs []Object) string {
	h := sha256.New()
	var line []byte
	for _, o := range objs {
		line = append(append(append(append(append(line[:0], o.Kind...), '\t'), o.Name...), '\t'), o.Definition...)
		h.Write(append(line, '\n'))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// EmptyFingerprint is the fingerprint of a schema with no objects: what a database
// where nothing ran yet is expected to have.
var EmptyFingerprint = fingerprintOf(nil)

// Drift is how a live schema differs from the expected one, by object (Object.Key).
type Drift struct {
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	Changed []string `json:"changed"`
	// Unavailable, when not "", says why there is no report although the database
	// differs from the expected schema (a pack without listings.json).
	Unavailable string `json:"unavailable,omitempty"`
}

// Empty reports whether nothing differs (or nothing could be compared).
func (d *Drift) Empty() bool {
	return d == nil || len(d.Added)+len(d.Removed)+len(d.Changed) == 0
}

// Compare returns how live differs from want.
func Compare(want, live *Listing) *Drift {
	d := &Drift{Added: []string{}, Removed: []string{}, Changed: []string{}}
	w := map[string]Object{}
	for _, o := range want.Objects {
		w[o.Key()] = o
	}
	seen := map[string]bool{}
	for _, o := range live.Objects {
		k := o.Key()
		seen[k] = true
		if wo, ok := w[k]; !ok {
			d.Added = append(d.Added, k)
		} else if wo.Definition != o.Definition {
			d.Changed = append(d.Changed, k)
		}
	}
	for _, o := range want.Objects {
		if !seen[o.Key()] {
			d.Removed = append(d.Removed, o.Key())
		}
	}
	return d
}

// Touches returns the drifted objects a script names: a plain, case-insensitive
// match of whole words of the script's text (comments included) against each
// object's name and, for a column, index, constraint or trigger, its table's name. It
// over-reports (a name in a comment counts) rather than guesses what SQL does.
func Touches(s *Script, drift *Drift, objects ...*Listing) []string {
	if drift.Empty() {
		return []string{}
	}
	words := map[string]bool{}
	for _, w := range regexp.MustCompile(`[\p{L}\p{N}_$]+`).FindAllString(strings.ToLower(s.Text), -1) {
		words[w] = true
	}
	tables := map[string]string{}
	for _, l := range objects {
		for _, o := range l.Objects {
			tables[o.Key()] = o.Table
		}
	}
	out := []string{}
	for _, list := range [][]string{drift.Added, drift.Removed, drift.Changed} {
		for _, k := range list {
			_, name, _ := strings.Cut(k, " ")
			if i := strings.IndexByte(name, '('); i >= 0 {
				name = name[:i]
			}
			hit := false
			for _, part := range strings.Split(strings.ToLower(name), ".") {
				hit = hit || words[part]
			}
			if t := tables[k]; t != "" {
				hit = hit || words[strings.ToLower(t)]
			}
			if hit {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

// querier is what the catalog readers need: a transaction or a connection.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// collect runs a query and calls row for each row with its scanned strings.
func collect(ctx context.Context, q querier, query string, args []any, n int, row func([]string)) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]sql.NullString, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	out := make([]string, n)
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, v := range vals {
			out[i] = v.String
		}
		row(out)
	}
	return rows.Err()
}
