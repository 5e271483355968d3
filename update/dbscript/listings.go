package dbscript

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ListingsFile is where a pack keeps the publisher's canonical listing of the
// standard schema after each script, beside FingerprintsFile.
const ListingsFile = Dir + "/listings.json"

// MaxListingsSize bounds the bytes of listings.json.
const MaxListingsSize = 64 << 20

// ErrNoListing is returned (wrapped) when a pack holds no listing for a script: the
// drift report cannot be made without replaying scripts, which upkeep never does.
// Packs built before `upkeep db build-fingerprints` wrote listings.json have none.
var ErrNoListing = errors.New("dbscript: the pack records no object listing")

// ListingChange is how the standard schema's listing after one script differs from
// the listing after the script before it: the objects it adds or whose definition it
// changes (Set), and the keys (Object.Key) of those it removes (Drop).
type ListingChange struct {
	Set  []Object `json:"set"`
	Drop []string `json:"drop"`
}

// Listings holds, per driver and script number, the change the script makes to the
// standard schema's listing, as upkeep/db/listings.json holds them: the listing after
// script n is the changes of every script up to n applied in order, and its
// fingerprint is fingerprints.json's for n.
type Listings map[Driver]map[int]ListingChange

// ListingChanges returns the changes between consecutive listings of full (by script
// number, in number order, the first one from an empty schema).
func ListingChanges(full map[int]*Listing) map[int]ListingChange {
	nums := make([]int, 0, len(full))
	for n := range full {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	out := map[int]ListingChange{}
	prev := map[string]Object{}
	for _, n := range nums {
		c := ListingChange{Set: []Object{}, Drop: []string{}}
		cur := map[string]Object{}
		for _, o := range full[n].Objects {
			cur[o.Key()] = o
			if p, ok := prev[o.Key()]; !ok || p != o {
				c.Set = append(c.Set, o)
			}
		}
		for _, o := range sortedObjects(prev) {
			if _, ok := cur[o.Key()]; !ok {
				c.Drop = append(c.Drop, o.Key())
			}
		}
		out[n] = c
		prev = cur
	}
	return out
}

func sortedObjects(m map[string]Object) []Object {
	objs := make([]Object, 0, len(m))
	for _, o := range m {
		objs = append(objs, o)
	}
	return newListing("", objs).Objects
}

// Listing rebuilds the listing of driver d after script n from the changes of every
// script up to n. It wraps ErrNoListing when there is no change recorded for n.
func (l Listings) Listing(d Driver, n int) (*Listing, error) {
	byNum := l[d]
	if _, ok := byNum[n]; !ok {
		return nil, fmt.Errorf("%w for %s after script %d", ErrNoListing, d, n)
	}
	nums := make([]int, 0, len(byNum))
	for k := range byNum {
		if k <= n {
			nums = append(nums, k)
		}
	}
	slices.Sort(nums)
	objs := map[string]Object{}
	for _, k := range nums {
		c := byNum[k]
		for _, key := range c.Drop {
			delete(objs, key)
		}
		for _, o := range c.Set {
			objs[o.Key()] = o
		}
	}
	list := make([]Object, 0, len(objs))
	for _, o := range objs {
		list = append(list, o)
	}
	return newListing(d, list), nil
}

// ParseListings reads listings.json: {"sqlite":{"1":{"set":[OBJECT…],"drop":[KEY…]},…},
// "postgres":{…}}, an OBJECT as Object's JSON and a KEY as Object.Key gives it.
func ParseListings(b []byte) (Listings, error) {
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	out := Listings{}
	for d, m := range raw {
		if Driver(d) != SQLite && Driver(d) != Postgres {
			return nil, fmt.Errorf("%s: unknown driver (want %q or %q)", d, SQLite, Postgres)
		}
		out[Driver(d)] = map[int]ListingChange{}
		for k, v := range m {
			n, err := strconv.Atoi(k)
			if err != nil || n < 1 || strconv.Itoa(n) != k {
				return nil, fmt.Errorf("%s.%s: not a script number", d, k)
			}
			var c ListingChange
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c); err != nil {
				return nil, fmt.Errorf("%s.%s: %w", d, k, err)
			}
			for i, o := range c.Set {
				if o.Kind == "" || o.Name == "" {
					return nil, fmt.Errorf("%s.%s.set[%d]: want a kind and a name", d, k, i)
				}
			}
			for j, key := range c.Drop {
				if i := strings.IndexByte(key, ' '); i < 1 || i == len(key)-1 {
					return nil, fmt.Errorf("%s.%s.drop[%d]: %q is not \"KIND NAME\"", d, k, j, key)
				}
			}
			out[Driver(d)][n] = c
		}
	}
	return out, nil
}

// MarshalJSON writes the listings with drivers and numbers in order, one object a
// line, so that the file diffs well.
func (l Listings) MarshalJSON() ([]byte, error) {
	return byDriverJSON(l, func(b *bytes.Buffer, c ListingChange) error {
		b.WriteString(`{"set": [`)
		for k, o := range c.Set {
			ob, err := json.Marshal(o)
			if err != nil {
				return err
			}
			if k > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n      ")
			b.Write(ob)
		}
		b.WriteString(`], "drop": [`)
		for k, key := range c.Drop {
			if k > 0 {
				b.WriteString(",")
			}
			kb, _ := json.Marshal(key)
			b.WriteString("\n      ")
			b.Write(kb)
		}
		b.WriteString("]}")
		return nil
	})
}
