package main

// Condition evaluation as Argo's utils/evaluate/evaluate.go (v1.9.1) does it, with the expr
// engine family Argo uses (Debian ships github.com/antonmedv/expr 1.8.9; Argo v1.9.1 pins
// 1.15.5: the conditions the templates use, field access and ==, behave the same in both).
//
//	neither condition set         -> Successful
//	only successCondition         -> Failed when it is false
//	only failureCondition         -> Successful when it is false
//	both: failureCondition true   -> Failed (failure wins)
//	      successCondition true   -> Successful
//	      neither true            -> Inconclusive
//	a compile or run error, or a non-bool result -> Error

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/antonmedv/expr"
	"github.com/antonmedv/expr/file"
)

const (
	phaseSuccessful   = "Successful"
	phaseFailed       = "Failed"
	phaseInconclusive = "Inconclusive"
	phaseError        = "Error"
	phaseRunning      = "Running"
	phasePending      = "Pending"
)

func evaluateResult(result interface{}, m *metric) (string, error) {
	success, failure := false, false
	var err error
	if m.SuccessCondition != "" {
		if success, err = evalCondition(result, m.SuccessCondition); err != nil {
			return phaseError, err
		}
	}
	if m.FailureCondition != "" {
		if failure, err = evalCondition(result, m.FailureCondition); err != nil {
			return phaseError, err
		}
	}
	switch {
	case m.SuccessCondition == "" && m.FailureCondition == "":
		return phaseSuccessful, nil
	case m.FailureCondition == "":
		failure = !success
	case m.SuccessCondition == "":
		success = !failure
	}
	if failure {
		return phaseFailed, nil
	}
	if !success {
		return phaseInconclusive, nil
	}
	return phaseSuccessful, nil
}

func evalCondition(result interface{}, condition string) (bool, error) {
	env := map[string]interface{}{
		"result":  result,
		"asInt":   asInt,
		"asFloat": asFloat,
		"isNaN":   math.IsNaN,
		"isInf":   func(f float64) bool { return math.IsInf(f, 0) },
		// Argo's isNil and default look at the whole result, whatever their first argument.
		"isNil":   func(interface{}) bool { return isNil(result) },
		"default": func(_ interface{}, def interface{}) interface{} { return orDefault(result, def) },
	}
	program, err := expr.Compile(condition, expr.Env(env))
	if err != nil {
		return false, messageOnly(err)
	}
	out, err := expr.Run(program, env)
	if err != nil {
		return false, messageOnly(err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("expected bool, but got %T", out)
	}
	return b, nil
}

// messageOnly drops expr's source snippet, as Argo does, keeping the message.
func messageOnly(err error) error {
	var fileErr *file.Error
	if errors.As(err, &fileErr) {
		return errors.New(fileErr.Message)
	}
	return err
}

func isNil(v interface{}) bool {
	if v == nil {
		return true
	}
	switch reflect.TypeOf(v).Kind() {
	case reflect.Ptr, reflect.Map, reflect.Array, reflect.Chan, reflect.Slice:
		return reflect.ValueOf(v).IsNil()
	}
	return false
}

func orDefault(v, def interface{}) interface{} {
	if isNil(v) {
		return def
	}
	return v
}

// asInt and asFloat accept numbers and numeric strings; anything else panics, which expr
// turns into a run error (an Error measurement), as in Argo.
func asInt(in interface{}) int64 {
	switch v := in.(type) {
	case float64:
		return int64(v)
	case int:
		return int64(v)
	case int64:
		return v
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			panic(err)
		}
		return n
	}
	panic(fmt.Sprintf("asInt() not supported on %v %v", reflect.TypeOf(in), in))
}

func asFloat(in interface{}) float64 {
	switch v := in.(type) {
	case float64:
		return v
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			panic(err)
		}
		return f
	}
	panic(fmt.Sprintf("asFloat() not supported on %v %v", reflect.TypeOf(in), in))
}
