package manifest

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"reflect"
	"sort"
)

// This file holds the digests that tell a reload what changed. A digest is
// computed by reflection over every field of the value, so a field added to
// Tool or Config (or to a struct inside them) is covered without anyone
// remembering to list it; TestDigestCoversEveryField fails if a field's
// kind cannot be encoded or a change to it goes unseen.
//
// Struct tags:
//
//	digest:"-"       not part of the digest: where the value came from
//	                 (File, Line), a value the digest already covers
//	                 (Wasm, through SHA256), or the digest itself
//	digest:"secret"  a string written only as its sha256
//
// A Secret is always written as its sha256, so the digest input never
// holds a secret in the clear (the digest is a hash anyway; this keeps a
// debugging dump of the input harmless too).

var (
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	secretType        = reflect.TypeFor[Secret]()
)

// digestOf returns "sha256:<hex>" over v (a struct or a pointer to one)
// and the digests of the files read while loading it.
func digestOf(v any, files []fileSum) string {
	h := sha256.New()
	digestValue(h, reflect.ValueOf(v), false)
	writeUint(h, uint64(len(files)))
	for _, f := range files {
		writeString(h, f.path)
		writeString(h, f.sha256)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// pathsOf returns the paths of files, without repeats, in order.
func pathsOf(files []fileSum) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range files {
		if !seen[f.path] {
			seen[f.path] = true
			out = append(out, f.path)
		}
	}
	return out
}

func writeUint(h hash.Hash, n uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	h.Write(b[:])
}

func writeString(h hash.Hash, s string) {
	writeUint(h, uint64(len(s)))
	h.Write([]byte(s))
}

func writeSecret(h hash.Hash, s string) {
	sum := sha256.Sum256([]byte(s))
	h.Write(sum[:])
}

// digestValue writes a canonical, unambiguous encoding of v: every value is
// preceded by its kind, strings and lists by their length, pointers and
// slices by whether they are nil, maps in key order. It panics on a kind
// it cannot encode, so that such a field cannot be added unnoticed.
func digestValue(h hash.Hash, v reflect.Value, secret bool) {
	t := v.Type()
	h.Write([]byte{byte(v.Kind())})
	switch {
	case t == secretType || secret && v.Kind() == reflect.String:
		writeSecret(h, v.String())
		return
	case t.Implements(textMarshalerType) && v.Kind() != reflect.Pointer:
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			panic(fmt.Sprintf("manifest: digest of %s: %v", t, err))
		}
		writeString(h, string(b))
		return
	}
	switch v.Kind() {
	case reflect.String:
		writeString(h, v.String())
	case reflect.Bool:
		if v.Bool() {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{0})
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		writeUint(h, uint64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		writeUint(h, v.Uint())
	case reflect.Float32, reflect.Float64:
		writeUint(h, math.Float64bits(v.Float()))
	case reflect.Pointer:
		if v.IsNil() {
			h.Write([]byte{0})
			return
		}
		h.Write([]byte{1})
		digestValue(h, v.Elem(), secret)
	case reflect.Slice:
		if v.IsNil() {
			h.Write([]byte{0})
			return
		}
		h.Write([]byte{1})
		writeUint(h, uint64(v.Len()))
		if t.Elem().Kind() == reflect.Uint8 { // json.RawMessage, []byte
			h.Write(v.Bytes())
			return
		}
		for i := 0; i < v.Len(); i++ {
			digestValue(h, v.Index(i), secret)
		}
	case reflect.Map:
		if v.IsNil() {
			h.Write([]byte{0})
			return
		}
		h.Write([]byte{1})
		if t.Key().Kind() != reflect.String {
			panic(fmt.Sprintf("manifest: digest of %s: only string keys are supported", t))
		}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		writeUint(h, uint64(len(keys)))
		for _, k := range keys {
			writeString(h, k.String())
			digestValue(h, v.MapIndex(k), secret)
		}
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("digest")
			if tag == "-" {
				continue
			}
			if !sf.IsExported() {
				panic(fmt.Sprintf("manifest: digest of %s: unexported field %s: tag it digest:\"-\" or give the type MarshalText", t, sf.Name))
			}
			writeString(h, sf.Name)
			digestValue(h, v.Field(i), tag == "secret")
		}
	default:
		panic(fmt.Sprintf("manifest: digest of %s: cannot encode a %s; tag it digest:\"-\" if it is not configuration", t, v.Kind()))
	}
}

// Digest is "sha256:<hex>" over every field of k, the hash included: two
// keys with equal digests grant the same. A reload compares it per key id.
func (k KeyConfig) Digest() string { return digestOf(k, nil) }
