package main

// tagged renders a Go value the way the TypeScript gob decoder must see it after the value has
// crossed gob: only the fields gob sends (encode.go: zero scalars, empty strings, slices and
// maps, nil pointers and interfaces, and zero GobEncoders are left out; structs and arrays are
// always sent), with tags for what JSON cannot say plainly. test/plugin/gob-vectors.test.ts
// converts decoded GobValues into the same form and compares.

import (
	"encoding"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
)

var (
	gobEncoderT    = reflect.TypeOf((*gob.GobEncoder)(nil)).Elem()
	binaryMarshalT = reflect.TypeOf((*encoding.BinaryMarshaler)(nil)).Elem()
	textMarshalT   = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
)

// registered names of concrete types sent inside interfaces (base types, as gob keys them).
var interfaceNames = map[reflect.Type]string{}

func registerName(name string, value interface{}) {
	gob.RegisterName(name, value)
	t := reflect.TypeOf(value)
	for t.Kind() == reflect.Ptr {
		t = t.Elem()
	}
	interfaceNames[t] = name
}

func externalKind(t reflect.Type) string {
	for _, c := range []reflect.Type{t, reflect.PtrTo(t)} {
		if c.Implements(gobEncoderT) {
			return "GobEncoder"
		}
	}
	for _, c := range []reflect.Type{t, reflect.PtrTo(t)} {
		if c.Implements(binaryMarshalT) {
			return "BinaryMarshaler"
		}
	}
	for _, c := range []reflect.Type{t, reflect.PtrTo(t)} {
		if c.Implements(textMarshalT) {
			return "TextMarshaler"
		}
	}
	return ""
}

func payload(v reflect.Value, kind string) []byte {
	var out []byte
	var err error
	switch kind {
	case "GobEncoder":
		out, err = v.Interface().(gob.GobEncoder).GobEncode()
	case "BinaryMarshaler":
		out, err = v.Interface().(encoding.BinaryMarshaler).MarshalBinary()
	case "TextMarshaler":
		out, err = v.Interface().(encoding.TextMarshaler).MarshalText()
	}
	if err != nil {
		panic(err)
	}
	return out
}

func intValue(i int64) interface{} {
	if i > 1<<53-1 || i < -(1<<53-1) {
		return map[string]string{"$big": fmt.Sprint(i)}
	}
	return i
}

func uintValue(u uint64) interface{} {
	if u > 1<<53-1 {
		return map[string]string{"$big": fmt.Sprint(u)}
	}
	return u
}

// fieldSent says whether gob sends a struct field holding v.
func fieldSent(v reflect.Value) bool {
	for v.Kind() == reflect.Ptr {
		if v.IsNil() {
			return false
		}
		v = v.Elem()
	}
	if externalKind(v.Type()) != "" {
		return !v.IsZero()
	}
	switch v.Kind() {
	case reflect.Struct, reflect.Array:
		return true
	case reflect.Interface:
		return !v.IsNil()
	case reflect.Map, reflect.Slice, reflect.String:
		return v.Len() > 0
	case reflect.Chan, reflect.Func:
		return false
	default:
		return !v.IsZero()
	}
}

func tagged(v reflect.Value) interface{} {
	for v.Kind() == reflect.Ptr {
		v = v.Elem()
	}
	if kind := externalKind(v.Type()); kind != "" {
		p := v
		if !p.Type().Implements(gobEncoderT) && !p.Type().Implements(binaryMarshalT) && !p.Type().Implements(textMarshalT) {
			cp := reflect.New(v.Type())
			cp.Elem().Set(v)
			p = cp
		}
		return map[string]string{"$opaque": kind, "type": v.Type().Name(), "hex": hex.EncodeToString(payload(p, kind))}
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
		c := v.Elem()
		base := c.Type()
		for base.Kind() == reflect.Ptr {
			base = base.Elem()
		}
		name, ok := interfaceNames[base]
		if !ok {
			name = base.String() // gob's own registration of builtin types
		}
		return map[string]interface{}{"$iface": name, "value": tagged(c)}
	case reflect.Struct:
		out := map[string]interface{}{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.PkgPath != "" { // unexported
				continue
			}
			if fieldSent(v.Field(i)) {
				out[f.Name] = tagged(v.Field(i))
			}
		}
		return out
	case reflect.Map:
		type entry struct {
			key  string
			pair []interface{}
		}
		var entries []entry
		for _, k := range v.MapKeys() {
			kj, _ := json.Marshal(tagged(k))
			entries = append(entries, entry{string(kj), []interface{}{tagged(k), tagged(v.MapIndex(k))}})
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
		pairs := []interface{}{}
		for _, e := range entries {
			pairs = append(pairs, e.pair)
		}
		return map[string]interface{}{"$map": pairs}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return map[string]string{"$bytes": hex.EncodeToString(v.Bytes())}
		}
		fallthrough
	case reflect.Array:
		list := []interface{}{}
		for i := 0; i < v.Len(); i++ {
			list = append(list, tagged(v.Index(i)))
		}
		return list
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intValue(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintValue(v.Uint())
	case reflect.Float32, reflect.Float64:
		return floatValue(v.Float())
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		return map[string]interface{}{"$complex": []interface{}{floatValue(real(c)), floatValue(imag(c))}}
	case reflect.String:
		return v.String()
	}
	panic("tagged: unsupported kind " + v.Kind().String())
}

func floatValue(f float64) interface{} {
	switch {
	case math.IsNaN(f):
		return map[string]string{"$float": "NaN"}
	case math.IsInf(f, 1):
		return map[string]string{"$float": "+Inf"}
	case math.IsInf(f, -1):
		return map[string]string{"$float": "-Inf"}
	}
	return f
}
