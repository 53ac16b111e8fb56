// Command argo-web plays an Argo Rollouts AnalysisRun of one of the project's templates
// against a running gate, the way the Argo Rollouts v1.9.1 controller would: it resolves the
// template's {{args.x}}, makes the web provider's HTTP request, applies the jsonPath, evaluates
// successCondition / failureCondition with the expr engine Argo uses, and applies Argo's
// metric rules (counters, limits, consecutive errors and successes, the order in which a
// metric is assessed) over a run whose waits are scaled down.
//
// It is a test harness written from Argo's documented behaviour and sources, not Argo's code.
// Build in GOPATH mode with Debian's packages:
//
//	GO111MODULE=off GOPATH=<dir>:/usr/share/gocode go build -o argo-web .
//
// Usage:
//
//	argo-web -template FILE [-name TEMPLATE] [-arg name=value]... [-secret name/key=value]...
//	         [-time-scale 0.001] [-terminate-after 2h] [-max-measurements 500]
//
// It prints the finished run as JSON on stdout and exits 0 whatever the run's phase; it exits
// 2 when the run cannot be created (bad flags, an unsupported template, an unresolved arg).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var args, secrets multiFlag
	templateFile := flag.String("template", "", "YAML file holding the AnalysisTemplate or ClusterAnalysisTemplate")
	templateName := flag.String("name", "", "metadata.name of the template (needed when the file holds several)")
	flag.Var(&args, "arg", "name=value passed to the run, as a Rollout's analysis args (repeatable)")
	flag.Var(&secrets, "secret", "secret/key=value: data of a Secret in the run's namespace (repeatable)")
	timeScale := flag.Float64("time-scale", 1, "real seconds slept per second of Argo time (0: do not sleep)")
	terminateAfter := flag.Duration("terminate-after", 0, "Argo time after which the run is terminated, as a Rollout ending background analysis does (0: never)")
	maxMeasurements := flag.Int("max-measurements", 500, "give up after this many measurements")
	flag.Parse()

	if *templateFile == "" {
		fail("-template is required")
	}
	incoming, err := parsePairs(args, "=")
	if err != nil {
		fail("-arg: %v", err)
	}
	secretData, err := parsePairs(secrets, "=")
	if err != nil {
		fail("-secret: %v", err)
	}

	tpl, err := loadTemplate(*templateFile, *templateName)
	if err != nil {
		fail("%v", err)
	}
	resolved, err := tpl.resolveArgs(incoming, secretData)
	if err != nil {
		fail("%v", resolved.redact(err.Error()))
	}
	for _, name := range tpl.ignoredArgs(incoming) {
		fmt.Fprintf(os.Stderr, "warning: arg %q is declared by no template; Argo ignores it\n", name)
	}
	metrics, err := tpl.resolveMetrics(resolved)
	if err != nil {
		fail("%v", resolved.redact(err.Error()))
	}

	run := newRun(tpl.name, metrics, resolved, runOptions{
		timeScale:       *timeScale,
		terminateAfter:  *terminateAfter,
		maxMeasurements: *maxMeasurements,
		sleep:           time.Sleep,
	})
	if err := run.execute(); err != nil {
		fail("%v", resolved.redact(err.Error()))
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(run.report()); err != nil {
		fail("writing the report: %v", err)
	}
}

func parsePairs(items []string, sep string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range items {
		i := strings.Index(item, sep)
		if i <= 0 {
			return nil, fmt.Errorf("%q is not name%svalue", item, sep)
		}
		out[item[:i]] = item[i+len(sep):]
	}
	return out, nil
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "argo-web: "+format+"\n", a...)
	os.Exit(2)
}
