package manifest

import "encoding/json"

// The fast path of decodeObject and object.array: once json.Valid has checked the
// whole value, a JSON object or array splits into its members by counting brackets
// outside strings, without encoding/json's token-by-token decoder, which costs tens of
// allocations per member. Each function reports false for anything it does not
// handle, and its caller then falls back to encoding/json for the exact error; so
// they need only agree with encoding/json on what they accept (FuzzSplit checks it).

// splitObject returns the members of the JSON object in raw; false when raw is not a
// valid JSON object or repeats a key.
func splitObject(raw []byte) (object, bool) {
	if !json.Valid(raw) {
		return nil, false
	}
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, false
	}
	obj := object{}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return obj, true
	}
	for i < len(raw) {
		end := valueEnd(raw, i)
		if end < 0 || raw[i] != '"' {
			return nil, false
		}
		key, ok := plainString(raw[i:end])
		if !ok && json.Unmarshal(raw[i:end], &key) != nil {
			return nil, false
		}
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return nil, false
		}
		i = skipSpace(raw, i+1)
		end = valueEnd(raw, i)
		if end < 0 {
			return nil, false
		}
		if _, dup := obj[key]; dup {
			return nil, false
		}
		obj[key] = json.RawMessage(raw[i:end:end])
		i = skipSpace(raw, end)
		if i >= len(raw) {
			return nil, false
		}
		switch raw[i] {
		case '}':
			return obj, true
		case ',':
			i = skipSpace(raw, i+1)
		default:
			return nil, false
		}
	}
	return nil, false
}

// splitArray returns the elements of the JSON array in raw; false when raw is not a
// valid JSON array.
func splitArray(raw []byte) ([]json.RawMessage, bool) {
	if !json.Valid(raw) {
		return nil, false
	}
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, false
	}
	elems := []json.RawMessage{}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return elems, true
	}
	for i < len(raw) {
		end := valueEnd(raw, i)
		if end < 0 {
			return nil, false
		}
		elems = append(elems, json.RawMessage(raw[i:end:end]))
		i = skipSpace(raw, end)
		if i >= len(raw) {
			return nil, false
		}
		switch raw[i] {
		case ']':
			return elems, true
		case ',':
			i = skipSpace(raw, i+1)
		default:
			return nil, false
		}
	}
	return nil, false
}

// plainString returns the JSON string in raw when it holds only printable ASCII and no
// escape, the common case, whose value is its bytes; false otherwise.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "", false
		}
	}
	return string(raw[1 : len(raw)-1]), true
}

// skipSpace returns the index of the first byte at or after i that is not JSON
// whitespace.
func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r' || raw[i] == '\n') {
		i++
	}
	return i
}

// valueEnd returns the index just past the JSON value that starts at raw[i], which
// must be valid; -1 when raw ends first.
func valueEnd(raw []byte, i int) int {
	if i >= len(raw) {
		return -1
	}
	switch raw[i] {
	case '"':
		return stringEnd(raw, i)
	case '{', '[':
		depth := 0
		for i < len(raw) {
			switch raw[i] {
			case '"':
				i = stringEnd(raw, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	// A number, true, false or null: up to the next delimiter.
	for i < len(raw) {
		switch raw[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string that starts at raw[i]; -1
// when raw ends first.
func stringEnd(raw []byte, i int) int {
	for i++; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}
