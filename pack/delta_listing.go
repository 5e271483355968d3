package pack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxListingToken bounds the JSON text of one listing entry (and of the listing's
// other values): a path and a link target take at most 4096 bytes each, 6 times as
// many when every byte is escaped.
const maxListingToken = 64 << 10

// errListingToken is a listing value longer than maxListingToken.
var errListingToken = fmt.Errorf("more than %d bytes without a complete value", maxListingToken)

// tokenReader reads the listing for a json.Decoder, failing once the decoder has
// read more than maxListingToken bytes past the end of the last value it decoded
// (mark): the decoder buffers a whole value, so its memory stays bounded.
type tokenReader struct {
	r          io.Reader
	read, mark int64
}

func (t *tokenReader) Read(p []byte) (int, error) {
	if t.read-t.mark > maxListingToken {
		return 0, errListingToken
	}
	if len(p) > 16<<10 {
		p = p[:16<<10]
	}
	n, err := t.r.Read(p)
	t.read += int64(n)
	return n, err
}

// readListing decodes the JSON listing read from src (the zip entry listing, whose
// declared size it checks) entry by entry, calling add with each entry (reused
// between calls) as soon as it is decoded: a listing is never held whole, and add
// can refuse it on its first entry past a limit. The listing is an object whose
// first member is "format" ([DeltaFormat] or [DeltaFormatV1], whose number is stored
// in *version before the first entry) and whose only other is "entries".
func readListing(src io.Reader, listing *file, version *int, add func(*deltaListItem) error) error {
	lr := &io.LimitedReader{R: src, N: int64(listing.usize) + 1}
	tr := &tokenReader{r: lr}
	jd := json.NewDecoder(tr)
	jd.DisallowUnknownFields()
	n := 0 // entries decoded
	where := func() string {
		if n == 0 {
			return ""
		}
		return fmt.Sprintf(" after entry %d", n)
	}
	bad := func(err error) error {
		var ee *EntryError
		switch {
		case errors.As(err, &ee):
			return err
		case errors.Is(err, errListingToken):
			return listingErr(listing.name, fmt.Sprintf("JSON%s: %v", where(), err))
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return listingErr(listing.name, "JSON"+where()+": unexpected end")
		}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) || isJSONError(err) {
			return listingErr(listing.name, fmt.Sprintf("JSON%s: %v", where(), err))
		}
		return entryErr(listing.name, RuleStructure, ErrFormat, "decompressing: "+err.Error())
	}
	token := func() (json.Token, error) {
		t, err := jd.Token()
		tr.mark = jd.InputOffset()
		return t, err
	}
	delim := func(want json.Delim) error {
		t, err := token()
		if err != nil {
			return bad(err)
		}
		if d, ok := t.(json.Delim); !ok || d != want {
			return listingErr(listing.name, fmt.Sprintf("JSON%s: %v where %q was expected", where(), t, want))
		}
		return nil
	}
	if err := delim('{'); err != nil {
		return err
	}
	var format string
	seen := map[string]bool{}
	for jd.More() {
		t, err := token()
		if err != nil {
			return bad(err)
		}
		key, _ := t.(string)
		if seen[key] {
			return listingErr(listing.name, fmt.Sprintf("JSON: field %q twice", key))
		}
		seen[key] = true
		switch {
		case key == "format":
			if t, err = token(); err != nil {
				return bad(err)
			}
			format, _ = t.(string)
			switch format {
			case DeltaFormat:
				*version = 2
			case DeltaFormatV1:
				*version = 1
			default:
				return listingErr(listing.name, fmt.Sprintf("format %q, want %q or %q: a delta this version cannot apply",
					cutString(format, 64), DeltaFormat, DeltaFormatV1))
			}
		case key == "entries" && format == "":
			return listingErr(listing.name, `"format" must come before "entries"`)
		case key == "entries":
			if err := delim('['); err != nil {
				return err
			}
			var it deltaListItem
			for jd.More() {
				it = deltaListItem{}
				if err := jd.Decode(&it); err != nil {
					return bad(err)
				}
				tr.mark = jd.InputOffset()
				n++
				if err := add(&it); err != nil {
					return err
				}
			}
			if err := delim(']'); err != nil {
				return err
			}
		default:
			return listingErr(listing.name, fmt.Sprintf("JSON: unknown field %q", cutString(key, 64)))
		}
	}
	if err := delim('}'); err != nil {
		return err
	}
	if format == "" {
		return listingErr(listing.name, "no format: not a delta")
	}
	if _, err := jd.Token(); err != io.EOF {
		if err == nil {
			return listingErr(listing.name, "JSON: data after the listing")
		}
		return bad(err)
	}
	if got := int64(listing.usize) + 1 - lr.N; got != int64(listing.usize) {
		return entryErr(listing.name, RuleSize, ErrFormat, fmt.Sprintf("%d bytes, %d declared", got, listing.usize))
	}
	return nil
}

// isJSONError reports whether err comes from encoding/json's decoding (its errors
// for unknown fields and bad values have no exported type).
func isJSONError(err error) bool {
	var ie *json.InvalidUnmarshalError
	return errors.As(err, &ie) || len(err.Error()) > 5 && err.Error()[:5] == "json:"
}

// cutString returns s cut to at most n bytes, with "…" when cut.
func cutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
