package manifest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzSplit checks the fast paths of split.go against encoding/json, which they stand
// in for: splitObject must accept exactly what decodeObjectSlow accepts, with the same
// members; splitArray the arrays json.Unmarshal accepts, with the same elements; and
// plainString only strings whose value is what json.Unmarshal gives.
func FuzzSplit(f *testing.F) {
	addSplitSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := splitObject(data)
		slow, err := decodeObjectSlow("", data)
		require.Equal(t, err == nil, ok, "splitObject %v, decoder %v", ok, err)
		if ok {
			require.Equal(t, len(slow), len(fast))
			for k, v := range slow {
				require.Contains(t, fast, k)
				require.Equal(t, string(v), string(fast[k]), "member %q", k)
			}
		}

		elems, ok := splitArray(data)
		var want []json.RawMessage
		err = json.Unmarshal(data, &want)
		if ok {
			require.NoError(t, err)
			require.Len(t, elems, len(want))
			for i := range want {
				require.Equal(t, string(want[i]), string(elems[i]), "element %d", i)
			}
		} else if err == nil {
			require.Equal(t, "null", string(data[skipSpace(data, 0):skipSpace(data, 0)+4]), "splitArray refused %q", data)
		}

		if s, ok := plainString(data); ok {
			var want string
			require.NoError(t, json.Unmarshal(data, &want))
			require.Equal(t, want, s)
		}
	})
}

func addSplitSeeds(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { } `, `[]`, ` [ 1 , "a" , {"b":[2]} ] `, `{"a":1,"b":"x","c":[1,{"d":"}"}],"e":null}`,
		`{"a":1,"a":2}`, `{"\u0061":1,"a":2}`, `{"a\"b":"c\\d"}`, `{"é":"\u00e9"}`, `{"a":1}x`, `{"a":1} `,
		`{"a":tru}`, `{"a" 1}`, `{"a":1,}`, `[1,]`, `"plain"`, `"esc\n"`, "\"\xff\"", `null`, ` null `, `{"a":-1.5e3}`,
	} {
		f.Add([]byte(s))
	}
}
