package main

// Loading a template and resolving its args the way Argo creates and reconciles an
// AnalysisRun: incoming args override only the args a template declares (MergeArgs), Secret
// values come from the run's namespace, and each metric is JSON-marshalled as a whole, every
// {{tag}} replaced by its value escaped for a JSON string (strconv.Quote without the outer
// quotes), then unmarshalled again (ResolveMetricArgs).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

type argument struct {
	Name      string  `json:"name"`
	Value     *string `json:"value,omitempty"`
	ValueFrom *struct {
		SecretKeyRef *struct {
			Name string `json:"name"`
			Key  string `json:"key"`
		} `json:"secretKeyRef,omitempty"`
		FieldRef *struct {
			FieldPath string `json:"fieldPath"`
		} `json:"fieldRef,omitempty"`
	} `json:"valueFrom,omitempty"`
}

type template struct {
	name    string
	args    []argument
	metrics []map[string]interface{}
}

// resolvedArgs are the run's arg values, and the Secret values to keep out of every message.
type resolvedArgs struct {
	values  map[string]string
	secrets []string
}

func (r resolvedArgs) redact(s string) string {
	for _, secret := range r.secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "*****")
		}
	}
	return s
}

func loadTemplate(path, name string) (*template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var found []map[string]interface{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc map[string]interface{}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		kind, _ := doc["kind"].(string)
		if kind != "AnalysisTemplate" && kind != "ClusterAnalysisTemplate" {
			continue
		}
		meta, _ := doc["metadata"].(map[string]interface{})
		if name == "" || meta["name"] == name {
			found = append(found, doc)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("%s: expected one analysis template named %q, found %d", path, name, len(found))
	}
	return decodeTemplate(found[0])
}

func decodeTemplate(doc map[string]interface{}) (*template, error) {
	meta, _ := doc["metadata"].(map[string]interface{})
	spec, _ := doc["spec"].(map[string]interface{})
	t := &template{}
	t.name, _ = meta["name"].(string)
	for _, unsupported := range []string{"dryRun", "templates"} {
		if spec[unsupported] != nil {
			return nil, fmt.Errorf("template %s: spec.%s is not supported by this harness", t.name, unsupported)
		}
	}
	argsJSON, err := json.Marshal(spec["args"])
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(argsJSON, &t.args); err != nil {
		return nil, fmt.Errorf("template %s: args: %v", t.name, err)
	}
	metrics, _ := spec["metrics"].([]interface{})
	for _, m := range metrics {
		metric, ok := m.(map[string]interface{})
		if !ok {
			return nil, fmt.Errorf("template %s: a metric is not a mapping", t.name)
		}
		t.metrics = append(t.metrics, metric)
	}
	if len(t.metrics) == 0 {
		return nil, fmt.Errorf("template %s: no metrics specified", t.name)
	}
	return t, nil
}

// resolveArgs merges the incoming args into the declared ones and reads Secret values.
func (t *template) resolveArgs(incoming, secretData map[string]string) (resolvedArgs, error) {
	r := resolvedArgs{values: map[string]string{}}
	for _, arg := range t.args {
		if v, ok := incoming[arg.Name]; ok {
			r.values[arg.Name] = v
			continue
		}
		switch {
		case arg.Value != nil && arg.ValueFrom != nil:
			return r, fmt.Errorf("arg '%s' has both Value and ValueFrom fields", arg.Name)
		case arg.Value != nil:
			r.values[arg.Name] = *arg.Value
		case arg.ValueFrom != nil && arg.ValueFrom.SecretKeyRef != nil:
			ref := arg.ValueFrom.SecretKeyRef
			v, ok := secretData[ref.Name+"/"+ref.Key]
			if !ok {
				return r, fmt.Errorf("arg %s: secret %s has no key %s (pass -secret %s/%s=...)", arg.Name, ref.Name, ref.Key, ref.Name, ref.Key)
			}
			r.values[arg.Name] = v
			r.secrets = append(r.secrets, v)
		case arg.ValueFrom != nil:
			return r, fmt.Errorf("arg %s: only valueFrom.secretKeyRef is resolved in a template's own args", arg.Name)
		default:
			return r, fmt.Errorf("args.%s was not resolved", arg.Name)
		}
	}
	return r, nil
}

// ignoredArgs lists incoming args no template declares: Argo drops them without a word.
func (t *template) ignoredArgs(incoming map[string]string) []string {
	declared := map[string]bool{}
	for _, a := range t.args {
		declared[a.Name] = true
	}
	var out []string
	for name := range incoming {
		if !declared[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func (t *template) resolveMetrics(r resolvedArgs) ([]metric, error) {
	var out []metric
	names := map[string]bool{}
	for _, raw := range t.metrics {
		text, err := json.Marshal(raw)
		if err != nil {
			return nil, err
		}
		resolved, err := substitute(string(text), r.values)
		if err != nil {
			return nil, err
		}
		var m metric
		if err := json.Unmarshal([]byte(resolved), &m); err != nil {
			return nil, fmt.Errorf("metric after resolving args: %v", err)
		}
		if names[m.Name] {
			return nil, fmt.Errorf("duplicate metric name %q", m.Name)
		}
		names[m.Name] = true
		if err := m.validate(); err != nil {
			return nil, fmt.Errorf("metric %s: %v", m.Name, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// substitute replaces every {{tag}} (trimmed) with its arg value, JSON-string escaped.
func substitute(text string, values map[string]string) (string, error) {
	var b strings.Builder
	for {
		open := strings.Index(text, "{{")
		if open < 0 {
			b.WriteString(text)
			return b.String(), nil
		}
		end := strings.Index(text[open+2:], "}}")
		if end < 0 {
			return "", fmt.Errorf("cannot find end tag=%q in the template starting with %q", "}}", text[open:])
		}
		tag := text[open+2 : open+2+end]
		b.WriteString(text[:open])
		name := strings.TrimSpace(tag)
		value, ok := "", false
		if strings.HasPrefix(name, "args.") {
			value, ok = values[strings.TrimPrefix(name, "args.")]
		}
		if !ok {
			return "", fmt.Errorf("failed to resolve {{%s}}", tag)
		}
		quoted := strconv.Quote(value)
		b.WriteString(quoted[1 : len(quoted)-1])
		text = text[open+2+end+2:]
	}
}
