package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/upkeep-go/upkeep/update"
)

// A configuration file's errors point at the line: LoadConfig keeps where each key of
// the file is, and a *update.ConfigError about the file gets its line and column (of
// the key at fault, else of the object that lacks it).

// keyPositions walks data and returns the offset of each key, by JSON path
// ("modules[0].path"), and of each object and array ("" for the top level).
func keyPositions(data []byte) map[string]int64 {
	pos := map[string]int64{"": 0}
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		path  string
		array bool
		index int
		key   string // the object's current key, "" before its first
	}
	var stack []*frame
	child := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.array {
			return f.path + "[" + strconv.Itoa(f.index) + "]"
		}
		if f.path == "" {
			return f.key
		}
		return f.path + "." + f.key
	}
	expectKey := func() bool {
		if len(stack) == 0 {
			return false
		}
		f := stack[len(stack)-1]
		return !f.array && f.key == ""
	}
	// after a value ends, the enclosing frame moves on.
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		f := stack[len(stack)-1]
		if f.array {
			f.index++
		} else {
			f.key = ""
		}
	}
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return pos
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				p := child()
				if _, ok := pos[p]; !ok {
					pos[p] = before
				}
				stack = append(stack, &frame{path: p, array: t == '['})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			if expectKey() {
				f := stack[len(stack)-1]
				f.key = t
				end := dec.InputOffset()
				pos[child()] = max(end-int64(len(strconv.Quote(t))), 0)
				continue
			}
			valueDone()
		default:
			valueDone()
		}
	}
}

// lineCol returns the 1-based line and column (in bytes) of offset off in data,
// skipping the whitespace before a token.
func lineCol(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	for off < int64(len(data)) && strings.IndexByte(" \t\r\n,:", data[off]) >= 0 {
		off++
	}
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// locate gives err, when it is a *update.ConfigError, the file, line and column of its
// field in data; it returns err.
func locate(err error, file string, data []byte, pos map[string]int64) error {
	var ce *update.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	if ce.File == "" {
		ce.File = file
	}
	if data == nil || ce.Line > 0 {
		return err
	}
	if pos == nil {
		pos = keyPositions(data)
	}
	// The key at fault, else the closest object that holds (or should hold) it.
	p := ce.Field
	for {
		if off, ok := pos[p]; ok {
			ce.Line, ce.Col = lineCol(data, off)
			return err
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			if p == "" {
				return err
			}
			p = ""
			continue
		}
		p = p[:i]
	}
}

// unknownKey turns the decoder's "unknown field" error into the ConfigError of the key
// at fault, with the closest known key of its object when one is near.
func unknownKey(err error, data []byte) (*update.ConfigError, bool) {
	name, ok := strings.CutPrefix(err.Error(), "json: unknown field ")
	if !ok {
		return nil, false
	}
	name, uerr := strconv.Unquote(name)
	if uerr != nil {
		return nil, false
	}
	// The first key of that name the configuration does not know at its place.
	pos := keyPositions(data)
	best, bestOff := "", int64(-1)
	for p, off := range pos {
		last := p[strings.LastIndexAny(p, ".")+1:]
		if last != name || (bestOff >= 0 && off > bestOff) {
			continue
		}
		if keys := knownKeys(parentPath(p)); keys != nil && !contains(keys, name) {
			best, bestOff = p, off
		}
	}
	if best == "" {
		best = name
	}
	msg := "unknown key"
	if s := closest(name, knownKeys(parentPath(best))); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return &update.ConfigError{Field: best, Err: errors.New(msg)}, true
}

func parentPath(p string) string {
	i := strings.LastIndexByte(p, '.')
	if i < 0 {
		return ""
	}
	return p[:i]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// knownKeys returns the keys the object at JSON path p may hold, nil when p is not an
// object of the configuration.
func knownKeys(p string) []string {
	t := reflect.TypeFor[Config]()
	if p != "" {
		for _, seg := range strings.Split(p, ".") {
			name, _, _ := strings.Cut(seg, "[")
			f, ok := fieldByKey(t, name)
			if !ok {
				return nil
			}
			t = f.Type
			for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
				t = t.Elem()
			}
			if t.Kind() != reflect.Struct {
				return nil
			}
		}
	}
	var keys []string
	collectKeys(t, &keys)
	return keys
}

func collectKeys(t reflect.Type, keys *[]string) {
	for f := range t.Fields() {
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			collectKeys(f.Type, keys)
			continue
		}
		if k := jsonKey(f); k != "" {
			*keys = append(*keys, k)
		}
	}
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			if g, ok := fieldByKey(f.Type, key); ok {
				return g, true
			}
			continue
		}
		if jsonKey(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func jsonKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		return f.Name
	}
	return name
}

// closest returns the key of keys nearest to name (an edit or two away, or the same
// letters in another case or with '-' for '_'), "" when none is near.
func closest(name string, keys []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	best, bestD := "", 3
	for _, k := range keys {
		if norm(k) == norm(name) {
			return k
		}
		if d := editDistance(name, k); d < bestD && d <= max(1, len(k)/3) {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// keyBefore returns the path of the last key of data before offset off whose path,
// without array indexes, is field; field itself when there is none.
func keyBefore(data []byte, field string, off int64) string {
	best, bestOff := field, int64(-1)
	for p, o := range keyPositions(data) {
		if o < off && o > bestOff && stripIndexes(p) == field {
			best, bestOff = p, o
		}
	}
	return best
}

func stripIndexes(p string) string {
	var b strings.Builder
	skip := false
	for _, r := range p {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// failingKey returns the top-level key of data whose value alone does not decode into
// its field, "(json)" when none does.
func failingKey(data []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return "(json)"
	}
	t := reflect.TypeFor[Config]()
	for _, k := range knownKeys("") {
		raw, ok := top[k]
		if !ok {
			continue
		}
		f, ok := fieldByKey(t, k)
		if !ok {
			continue
		}
		if json.Unmarshal(raw, reflect.New(f.Type).Interface()) != nil {
			return k
		}
	}
	return "(json)"
}
