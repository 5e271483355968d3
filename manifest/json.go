package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"time"
)

// object is a JSON object's members by key, values left undecoded. Keys match exactly
// (not case-insensitively, as encoding/json's struct decoding would), and a key given
// twice is an error rather than "last one wins", so that every reader of a signed
// manifest sees the same values.
type object map[string]json.RawMessage

// join returns the JSON path of key inside the object at path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// index returns the JSON path of element i of the array at path.
func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// jsonKind names the JSON type of a raw value, for messages.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// decodeObject splits the JSON object in raw into its members. path names raw in
// errors ("" for the whole document). Valid input takes the fast path of splitObject;
// whatever it does not take, encoding/json's decoder reads again, for its error.
func decodeObject(path string, raw []byte) (object, error) {
	if obj, ok := splitObject(raw); ok {
		return obj, nil
	}
	return decodeObjectSlow(path, raw)
}

// decodeObjectSlow is decodeObject with encoding/json's decoder, token by token: slow
// (tens of allocations per member), but its errors say what is wrong and where.
func decodeObjectSlow(path string, raw []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fieldErr(path, ErrInvalid, "not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fieldErr(path, ErrInvalid, "want a JSON object, got %s", jsonKind(raw))
	}
	obj := object{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fieldErr(path, ErrInvalid, "not JSON: %v", err)
		}
		key, _ := tok.(string) // inside an object the decoder yields only string keys
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fieldErr(join(path, key), ErrInvalid, "not JSON: %v", err)
		}
		if _, dup := obj[key]; dup {
			return nil, fieldErr(join(path, key), ErrDuplicate, "key given twice")
		}
		obj[key] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fieldErr(path, ErrInvalid, "not JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if path == "" {
			return nil, fieldErr(path, ErrInvalid, "data after the JSON object")
		}
		return nil, fieldErr(path, ErrInvalid, "not JSON")
	}
	return obj, nil
}

// has reports whether key is present and not null.
func (o object) has(key string) bool {
	v, ok := o[key]
	return ok && string(bytes.TrimSpace(v)) != "null"
}

// array splits the JSON array at key into its elements; present is false when the key
// is absent or null.
func (o object) array(path, key string) (elems []json.RawMessage, present bool, err error) {
	if !o.has(key) {
		return nil, false, nil
	}
	if elems, ok := splitArray(o[key]); ok {
		return elems, true, nil
	}
	if err := json.Unmarshal(o[key], &elems); err != nil {
		return nil, true, fieldErr(join(path, key), ErrInvalid, "want an array, got %s", jsonKind(o[key]))
	}
	return elems, true, nil
}

// str returns the JSON string at key.
func (o object) str(path, key string) (s string, present bool, err error) {
	if !o.has(key) {
		return "", false, nil
	}
	if s, ok := plainString(o[key]); ok {
		return s, true, nil
	}
	if err := json.Unmarshal(o[key], &s); err != nil {
		return "", true, fieldErr(join(path, key), ErrInvalid, "want a string, got %s", jsonKind(o[key]))
	}
	return s, true, nil
}

// number returns the JSON number at key as written, refusing other types.
func (o object) number(path, key string) (n json.Number, present bool, err error) {
	if !o.has(key) {
		return "", false, nil
	}
	raw := bytes.TrimSpace(o[key])
	if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return "", true, fieldErr(join(path, key), ErrInvalid, "want a number, got %s", jsonKind(o[key]))
	}
	return n, true, nil
}

// int64 returns the integer at key.
func (o object) int64(path, key string) (int64, bool, error) {
	n, ok, err := o.number(path, key)
	if !ok || err != nil {
		return 0, ok, err
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return 0, true, fieldErr(join(path, key), ErrInvalid, "want an integer, got %s", n)
	}
	return i, true, nil
}

// int returns the integer at key, within the range of int32 so it fits int everywhere.
func (o object) int(path, key string) (int, bool, error) {
	i, ok, err := o.int64(path, key)
	if !ok || err != nil {
		return 0, ok, err
	}
	if i < -1<<31 || i > 1<<31-1 {
		return 0, true, fieldErr(join(path, key), ErrInvalid, "%d is out of range", i)
	}
	return int(i), true, nil
}

// uint64 returns the unsigned integer at key.
func (o object) uint64(path, key string) (uint64, bool, error) {
	n, ok, err := o.number(path, key)
	if !ok || err != nil {
		return 0, ok, err
	}
	u, err := strconv.ParseUint(n.String(), 10, 64)
	if err != nil {
		return 0, true, fieldErr(join(path, key), ErrInvalid, "want an unsigned integer, got %s", n)
	}
	return u, true, nil
}

// time returns the RFC 3339 time at key, in UTC.
func (o object) time(path, key string) (time.Time, bool, error) {
	s, ok, err := o.str(path, key)
	if !ok || err != nil {
		return time.Time{}, ok, err
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, true, fieldErr(join(path, key), ErrInvalid, "%q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", s)
	}
	t = t.UTC()
	if err := checkTime(join(path, key), t); err != nil {
		return time.Time{}, true, err
	}
	return t, true, nil
}

// checkTime refuses times that RFC 3339 cannot write back in UTC (years 0 to 9999).
func checkTime(path string, t time.Time) error {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return fieldErr(path, ErrInvalid, "year %d in UTC is outside 0..9999", y)
	}
	return nil
}

// strOrNumber returns the string or number at key as text: HFSQL files are written by
// hand and carry build numbers either way.
func (o object) strOrNumber(path, key string) (string, bool, error) {
	if !o.has(key) {
		return "", false, nil
	}
	if raw := bytes.TrimSpace(o[key]); len(raw) > 0 && raw[0] == '"' {
		return o.str(path, key)
	}
	n, _, err := o.number(path, key)
	if err != nil {
		return "", true, fieldErr(join(path, key), ErrInvalid, "want a string or a number, got %s", jsonKind(o[key]))
	}
	return n.String(), true, nil
}
