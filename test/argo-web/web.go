package main

// The web provider's measurement (metricproviders/webmetric/webmetric.go, v1.9.1): one HTTP
// request per measurement, non-2xx is an Error, a JSON body goes through the jsonPath and the
// conditions, a body that is not JSON counts as Successful whatever the conditions say (v1.9.1
// behaviour, Argo issue #4535, changed after 1.9.1), and the value stored is the JSON of the
// first match.
//
// jsonPath: the harness implements the subset of Kubernetes JSONPath made of one expression of
// field names and array indexes: {$}, {$.a.b}, {.a.b}, {.a[0].b}. Anything else (filters,
// wildcards, ranges, several expressions) is refused when the template is loaded.

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

type pathStep struct {
	field string
	index int // used when field == ""
}

var pathStepPattern = regexp.MustCompile(`^(?:\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\])`)

func parseJSONPath(expr string) ([]pathStep, error) {
	if expr == "" {
		expr = "{$}" // the web provider's default
	}
	if !strings.HasPrefix(expr, "{") || !strings.HasSuffix(expr, "}") || strings.Count(expr, "{") != 1 {
		return nil, fmt.Errorf("jsonPath %q is outside the harness's subset (one {...} expression)", expr)
	}
	body := strings.TrimPrefix(strings.TrimSuffix(expr[1:len(expr)-1], ""), "$")
	var steps []pathStep
	for body != "" {
		m := pathStepPattern.FindStringSubmatch(body)
		if m == nil {
			return nil, fmt.Errorf("jsonPath %q is outside the harness's subset (fields and [n] only) at %q", expr, body)
		}
		if m[1] != "" {
			steps = append(steps, pathStep{field: m[1]})
		} else {
			n, _ := strconv.Atoi(m[2])
			steps = append(steps, pathStep{index: n})
		}
		body = body[len(m[0]):]
	}
	return steps, nil
}

func findJSONPath(data interface{}, steps []pathStep) (interface{}, error) {
	cur := data
	for _, s := range steps {
		if s.field != "" {
			obj, ok := cur.(map[string]interface{})
			if !ok {
				return nil, fmt.Errorf("%s is not found", s.field)
			}
			v, ok := obj[s.field]
			if !ok {
				return nil, fmt.Errorf("%s is not found", s.field)
			}
			cur = v
			continue
		}
		arr, ok := cur.([]interface{})
		if !ok || s.index >= len(arr) {
			return nil, fmt.Errorf("array index out of bounds: index %d, length %d", s.index, len(arr))
		}
		cur = arr[s.index]
	}
	return cur, nil
}

var insecureTransport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}

// measureWeb takes one measurement and returns its phase, value and message.
func measureWeb(m *metric) (phase, value, message string) {
	web := m.web
	method := web.Method
	if method == "" {
		method = "GET"
	}
	hasJSONBody := len(web.JSONBody) > 0 && string(web.JSONBody) != "null"
	if web.Body != "" && hasJSONBody {
		return phaseError, "", "use either Body or JSONBody; both cannot exists for WebMetric payload"
	}
	if (web.Body != "" || hasJSONBody) && method == "GET" {
		return phaseError, "", "Body/JSONBody can only be used with POST or PUT WebMetric Method types"
	}
	var body io.Reader
	if web.Body != "" {
		body = strings.NewReader(web.Body)
	} else if hasJSONBody {
		body = bytes.NewReader(web.JSONBody)
	}
	req, err := http.NewRequest(method, web.URL, body)
	if err != nil {
		return phaseError, "", err.Error()
	}
	for _, h := range web.Headers {
		req.Header.Set(h.Key, h.Value)
	}
	if hasJSONBody {
		req.Header.Set("Content-Type", "application/json") // after the headers: it wins
	}
	timeout := 10 * time.Second
	if web.TimeoutSeconds > 0 {
		timeout = time.Duration(web.TimeoutSeconds) * time.Second
	}
	client := &http.Client{Timeout: timeout}
	if web.Insecure {
		client.Transport = insecureTransport
	}
	resp, err := client.Do(req)
	if err != nil {
		return phaseError, "", err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return phaseError, "", fmt.Sprintf("received non 2xx response code: %v", resp.StatusCode)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return phaseError, "", fmt.Sprintf("Received no bytes in response: %v", err)
	}
	var data interface{}
	if err := json.Unmarshal(raw, &data); err != nil {
		return phaseSuccessful, string(raw), "" // v1.9.1: a non-JSON body passes (#4535)
	}
	found, err := findJSONPath(data, m.jsonPath)
	if err != nil {
		return phaseError, "", fmt.Sprintf("Could not find JSONPath in body: %s", err)
	}
	valueBytes, err := json.Marshal(found)
	if err != nil {
		return phaseError, "", err.Error()
	}
	phase, err = evaluateResult(found, m)
	if err != nil {
		return phaseError, "", err.Error()
	}
	return phase, string(valueBytes), ""
}
