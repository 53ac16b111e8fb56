package main

import (
	"bytes"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/rpc"
	"reflect"
	"time"

	"agentcanary/argo"
)

type gobVector struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Hex         string        `json:"hex"`
	Values      []interface{} `json:"values"`
}

// Types used only by the vectors: every gob kind at least once.

type Point struct{ X, Y int }

type Scalars struct {
	Bool     bool
	Int      int
	IntMin   int64
	Int8     int8
	Uint     uint
	UintMax  uint64
	Float    float64
	Float32  float32
	NaN      float64
	Inf      float64
	String   string
	Unicode  string
	Bytes    []byte
	Complex  complex128
	Zero     int // zero: not sent
	Empty    string
	NilBytes []byte
}

type Nested struct {
	Name     string
	Point    Point
	PointPtr *Point
	Points   []Point
	Ptrs     []*Point
	Counts   map[string]int
	Names    map[int]string
	ByPoint  map[string]Point
	Array    [3]int
	Strings  [2]string
	Matrix   [][]float64
	Empty    struct{}
	Deep     *Nested
	Flags    map[bool][]string
	unexport int
	Ch       chan int // never sent
}

type Tree struct {
	Name     string
	Children []*Tree
}

type Shape interface{}

type Circle struct{ R float64 }
type Labels map[string]string

type Holder struct {
	Any    interface{}
	Nil    interface{}
	List   []interface{}
	ByName map[string]interface{}
	Inner  *Holder
}

// Checksum is a BinaryMarshaler: a payload the decoder keeps opaque. (Go's encoder never uses
// TextMarshaler, so that wire kind has a hand-written vector in the TypeScript tests.)
type Checksum struct{ sum uint32 }

func (c Checksum) MarshalBinary() ([]byte, error) {
	return []byte{byte(c.sum >> 24), byte(c.sum >> 16), byte(c.sum >> 8), byte(c.sum)}, nil
}
func (c *Checksum) UnmarshalBinary(b []byte) error {
	if len(b) != 4 {
		return errors.New("checksum: want 4 bytes")
	}
	c.sum = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return nil
}

type External struct {
	When     argo.Time
	WhenPtr  *argo.Time
	Zone     argo.Time
	Never    argo.Time // zero: not sent
	Sum      Checksum
	Sums     []Checksum
	Schedule map[string]argo.Time
}

func init() {
	registerName("Circle", Circle{})
	registerName("Point", Point{})
	registerName("Labels", Labels{})
	registerName("Holder", &Holder{})
	registerName("Tree", &Tree{})
	// Registered by package argo under Argo's names; recorded here for the tagged rendering.
	interfaceNames[reflect.TypeOf(argo.RunArgs{})] = "RunArgs"
	interfaceNames[reflect.TypeOf(argo.TerminateAndResumeArgs{})] = "TerminateAndResumeArgs"
	interfaceNames[reflect.TypeOf(argo.GarbageCollectArgs{})] = "GarbageCollectArgs"
	interfaceNames[reflect.TypeOf(argo.GetMetadataArgs{})] = "GetMetadataArgs"
}

func encodeAll(values ...interface{}) (string, error) {
	var buf bytes.Buffer
	enc := gob.NewEncoder(&buf)
	for _, v := range values {
		if err := enc.Encode(v); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(buf.Bytes()), nil
}

func vector(name, description string, values ...interface{}) (gobVector, error) {
	h, err := encodeAll(values...)
	if err != nil {
		return gobVector{}, err
	}
	v := gobVector{Name: name, Description: description, Hex: h}
	for _, x := range values {
		v.Values = append(v.Values, tagged(reflect.ValueOf(x)))
	}
	return v, nil
}

func gobVectors() ([]gobVector, error) {
	when := time.Date(2026, 11, 26, 9, 30, 15, 123456789, time.UTC)
	zone := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("IST", 5*3600+30*60))
	odd := time.Date(1890, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 3600+17))
	nested := Nested{
		Name:     "n",
		Point:    Point{1, -2},
		PointPtr: &Point{3, 4},
		Points:   []Point{{5, 6}, {}, {7, 0}},
		Ptrs:     []*Point{{8, 9}},
		Counts:   map[string]int{"a": 1, "b": 0, "c": -3},
		Names:    map[int]string{1: "one", -1: "minus one", 1000: ""},
		ByPoint:  map[string]Point{"origin": {}, "x": {X: 1}},
		Array:    [3]int{0, 0, 7},
		Strings:  [2]string{"", "b"},
		Matrix:   [][]float64{{1.5, -2}, {}, {math.Pi}},
		Deep:     &Nested{Name: "deep", Flags: map[bool][]string{true: {"t"}, false: {}}},
		unexport: 99,
	}
	tree := &Tree{Name: "root", Children: []*Tree{{Name: "a", Children: []*Tree{{Name: "a1"}}}, {Name: "b"}}}
	holder := Holder{
		Any:    Circle{R: 2.5},
		List:   []interface{}{Point{1, 2}, "text", 42, Labels{"k": "v"}, Circle{}},
		ByName: map[string]interface{}{"tree": tree, "nil": nil},
		Inner:  &Holder{Any: &Holder{Any: Point{X: 9}}},
	}
	external := External{
		When: argo.Time{when}, WhenPtr: &argo.Time{when.Add(time.Hour)}, Zone: argo.Time{zone},
		Sum: Checksum{0xdeadbeef}, Sums: []Checksum{{1}, {0}},
		Schedule: map[string]argo.Time{"start": {when}, "odd": {odd}},
	}

	run, metric := argo.SampleRun(argo.SampleOptions{
		Rollout: "support-agent", Namespace: "agents", Revision: "3", CanaryHash: "6d4f8b7c9", StableHash: "5c7b9d2f1",
		Config: map[string]interface{}{"address": "http://agent-canary-gate.argo-rollouts.svc:8080", "stage": "canary-1", "apiKey": "{{args.gate-api-key}}"},
	})
	var runArgs interface{} = argo.RunArgs{AnalysisRun: run, Metric: metric}
	var nilArgs interface{}
	request := rpc.Request{ServiceMethod: "Plugin.Run", Seq: 0}
	request2 := rpc.Request{ServiceMethod: "Plugin.Type", Seq: 1}

	type spec struct {
		name, description string
		values            []interface{}
	}
	specs := []spec{
		// First, so Point gets Go's first user type id (65) as in doc.go's worked example.
		{"point-twice", "the doc.go Point example, sent twice: the type is defined once", []interface{}{Point{22, 33}, Point{22, 33}}},
		{"int", "a top-level int is a singleton: 03 04 00 54 (doc.go)", []interface{}{42}},
		{"scalars", "every scalar kind, zero fields left out", []interface{}{Scalars{
			Bool: true, Int: -129, IntMin: math.MinInt64, Int8: -8, Uint: 256, UintMax: math.MaxUint64,
			Float: 17, Float32: 0.1, NaN: math.NaN(), Inf: math.Inf(-1), String: "plain", Unicode: "h\u00e9llo \u2603 \U0001F600",
			Bytes: []byte{0, 1, 0xfe, 0xff}, Complex: complex(1.5, -2),
		}}},
		{"nested", "structs, pointers, slices, maps, arrays, empty and unexported fields", []interface{}{nested}},
		{"recursive", "a type that contains itself", []interface{}{tree}},
		{"interfaces", "interface values by registered name, nil, in slices and maps, nested", []interface{}{holder}},
		{"external", "GobEncoder (metav1.Time-like) and BinaryMarshaler payloads, in fields, slices and maps", []interface{}{external, argo.Time{when}}},
		{"zeroes", "a struct with nothing to send is its terminator alone", []interface{}{Scalars{}, Nested{}}},
		{"top-level-kinds", "non-struct top-level values", []interface{}{"s", []string{"a", "b"}, map[string]string{"k": "v"}, true, 3.25, []byte("raw")}},
		{"rpc-run-request", "what net/rpc writes for Plugin.Run: Request header, then &args (interface{} holding RunArgs, full AnalysisRun tree)", []interface{}{request, &runArgs}},
		{"rpc-nil-args", "Plugin.Type's argument: new(interface{}) is a nil interface", []interface{}{request2, &nilArgs}},
	}
	var out []gobVector
	for _, s := range specs {
		v, err := vector(s.name, s.description, s.values...)
		if err != nil {
			return nil, errors.New(s.name + ": " + err.Error())
		}
		out = append(out, v)
	}
	return out, nil
}

// ----- decode: what Go makes of bytes the TypeScript encoder wrote ---------------------------------

type decodeStep struct {
	Type string `json:"type"`
}

type decodeInput struct {
	Hex   string       `json:"hex"`
	Steps []decodeStep `json:"steps"`
}

func timeText(t *argo.Time) interface{} {
	if t == nil {
		return nil
	}
	return t.Time.UTC().Format(time.RFC3339Nano)
}

// decodeReplies decodes one stream, value by value, into the types the Go host would use.
func decodeReplies(r io.Reader) (interface{}, error) {
	var in decodeInput
	if err := json.NewDecoder(r).Decode(&in); err != nil {
		return nil, err
	}
	raw, err := hex.DecodeString(in.Hex)
	if err != nil {
		return nil, err
	}
	dec := gob.NewDecoder(bytes.NewReader(raw))
	var results []interface{}
	for i, step := range in.Steps {
		var got interface{}
		switch step.Type {
		case "Response":
			var v rpc.Response
			err = dec.Decode(&v)
			got = map[string]interface{}{"ServiceMethod": v.ServiceMethod, "Seq": v.Seq, "Error": v.Error}
		case "Measurement":
			var v argo.Measurement
			err = dec.Decode(&v)
			got = map[string]interface{}{"Phase": v.Phase, "Message": v.Message, "Value": v.Value, "Metadata": v.Metadata,
				"StartedAt": timeText(v.StartedAt), "FinishedAt": timeText(v.FinishedAt), "ResumeAt": timeText(v.ResumeAt)}
		case "RpcError":
			var v argo.RpcError
			err = dec.Decode(&v)
			got = map[string]interface{}{"ErrorString": v.ErrorString}
		case "string":
			var v string
			err = dec.Decode(&v)
			got = v
		case "uint32":
			var v uint32
			err = dec.Decode(&v)
			got = v
		case "map[string]string":
			var v map[string]string
			err = dec.Decode(&v)
			got = v
		case "struct{}":
			var v struct{}
			err = dec.Decode(&v)
			got = map[string]interface{}{}
		case "discard":
			err = dec.Decode(nil)
			got = nil
		default:
			return nil, errors.New("unknown step type " + step.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("step %d (%s): %w", i, step.Type, err)
		}
		results = append(results, got)
	}
	return results, nil
}
