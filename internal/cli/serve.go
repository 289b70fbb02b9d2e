package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/proto"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/engine/report"
)

// serveFlags are diagnose serve's own flags.
type serveFlags struct {
	listen    string
	interval  time.Duration
	playbooks []string
	dirs      []string
}

// serveCmd is `diagnose serve`: the chosen playbooks evaluated on an
// interval, their results served as Prometheus metrics.
func (e *env) serveCmd() *cobra.Command {
	var sf sampleFlags
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Evaluate playbooks on an interval and serve their results as Prometheus metrics",
		Long: `Evaluate the chosen playbooks every --interval and serve the latest results on /metrics, as
--format prometheus writes them, with diagnose's own process and Go metrics; /healthz says whether the
evaluations keep up. A failing probe or playbook is a metric (diagnose_playbook_up 0), never a stop.
SIGINT or SIGTERM stops the server cleanly.`,
		Example:           "  diagnose serve --listen :9776 --playbook system --playbook oom-container --interval 30s",
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE:              func(*cobra.Command, []string) error { return e.serve(&sf, f) },
	}
	return builtin(cmd, func(fs *pflag.FlagSet) {
		fs.StringVar(&f.listen, "listen", "127.0.0.1:9776", "serve on this `ADDR` (host:port; :9776 for every interface)")
		fs.DurationVar(&f.interval, "interval", time.Minute, "evaluate the playbooks this often")
		fs.StringArrayVar(&f.playbooks, "playbook", []string{"system"}, "evaluate this playbook (`NAME`, repeatable; playbooks without required parameters)")
		playbooksFlag(fs, &f.dirs)
		sf.register(fs)
	})
}

func (e *env) serve(sf *sampleFlags, f serveFlags) error {
	if err := sf.check(); err != nil {
		return err
	}
	if f.interval < sf.window {
		return usagef("--interval %s is shorter than the window (--duration %s): each evaluation takes the window", f.interval, sf.window)
	}
	pbs, err := e.servedPlaybooks(f)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return usagef("--listen %s: %v", f.listen, err)
	}
	st := &served{interval: f.interval}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(prometheus.Gatherers{reg, prometheus.GathererFunc(st.gather)},
		promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/healthz", st.health)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(e.stderr, "diagnose: serving %s on http://%s/metrics every %s\n", joinNames(pbs), ln.Addr(), f.interval)

	tick := time.NewTicker(f.interval)
	defer tick.Stop()
	for {
		st.evaluate(e, sf, pbs)
		select {
		case <-e.ctx.Done():
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				return fmt.Errorf("stop serving: %w", err)
			}
			fmt.Fprintln(e.stderr, "diagnose: stopped")
			return nil
		case err := <-served:
			return fmt.Errorf("serve %s: %w", ln.Addr(), err)
		case <-tick.C:
		}
	}
}

// servedPlaybooks loads the playbooks to serve: each must run without
// parameters (a PID changes; the node's view does not).
func (e *env) servedPlaybooks(f serveFlags) ([]*engine.Playbook, error) {
	var out []*engine.Playbook
	for _, name := range f.playbooks {
		pb, err := e.playbookNamed(name, f.dirs)
		if err != nil {
			return nil, err
		}
		for _, p := range pb.Parameters {
			if p.Required {
				return nil, usagef("--playbook %s needs --%s: serve runs playbooks without required parameters (system, oom-container)", name, engine.FlagName(p.Name))
			}
		}
		out = append(out, pb)
	}
	return out, nil
}

func joinNames(pbs []*engine.Playbook) string {
	var names []string
	for _, pb := range pbs {
		names = append(names, pb.Name)
	}
	return fmt.Sprint(names)
}

// served holds the latest evaluation of each playbook.
type served struct {
	interval time.Duration
	mu       sync.Mutex
	families []*dto.MetricFamily
	last     time.Time // when the last evaluation ended
}

// evaluate runs every playbook once; one that fails is reported with
// diagnose_playbook_up 0 and its reason, and the others still run.
func (st *served) evaluate(e *env, sf *sampleFlags, pbs []*engine.Playbook) {
	byName := map[string]*dto.MetricFamily{}
	var order []string
	add := func(mfs []*dto.MetricFamily) {
		for _, mf := range mfs {
			if have := byName[mf.GetName()]; have != nil {
				have.Metric = append(have.Metric, mf.Metric...)
				continue
			}
			byName[mf.GetName()] = mf
			order = append(order, mf.GetName())
		}
	}
	up := &dto.MetricFamily{Name: proto.String("diagnose_playbook_up"), Type: dto.MetricType_GAUGE.Enum(),
		Help: proto.String("1 when the playbook's last evaluation succeeded, 0 when it failed (reason in the label)")}
	took := &dto.MetricFamily{Name: proto.String("diagnose_playbook_evaluation_seconds"), Type: dto.MetricType_GAUGE.Enum(),
		Help: proto.String("how long the playbook's last evaluation took, window included")}
	for _, pb := range pbs {
		began := time.Now()
		rep, err := e.evaluateOnce(pb, sf)
		label := func(v float64, reason string) *dto.Metric {
			return &dto.Metric{Label: []*dto.LabelPair{
				{Name: proto.String("playbook"), Value: proto.String(pb.Name)},
				{Name: proto.String("error"), Value: proto.String(reason)},
			}, Gauge: &dto.Gauge{Value: proto.Float64(v)}}
		}
		if err != nil {
			up.Metric = append(up.Metric, label(0, err.Error()))
			continue
		}
		up.Metric = append(up.Metric, label(1, ""))
		took.Metric = append(took.Metric, &dto.Metric{Label: []*dto.LabelPair{{Name: proto.String("playbook"), Value: proto.String(pb.Name)}},
			Gauge: &dto.Gauge{Value: proto.Float64(time.Since(began).Seconds())}})
		add(report.Metrics(rep))
	}
	add([]*dto.MetricFamily{up, took})
	fams := make([]*dto.MetricFamily, 0, len(order))
	for _, n := range order {
		if len(byName[n].Metric) > 0 {
			fams = append(fams, byName[n])
		}
	}
	st.mu.Lock()
	st.families, st.last = fams, time.Now()
	st.mu.Unlock()
}

// evaluateOnce is one run of a playbook, as diagnose NAME would do it,
// turned into a report; a panic in it is an error, not a dead server.
func (e *env) evaluateOnce(pb *engine.Playbook, sf *sampleFlags) (rep report.Report, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("evaluation failed: %v (a bug: please report it)", r)
		}
	}()
	rep, _, err = e.evaluate(pb, sf, &reportFlags{}, map[string]string{}, nil)
	return rep, err
}

func (st *served) gather() ([]*dto.MetricFamily, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.families, nil
}

// health is 200 while evaluations keep up (one ended within two
// intervals), 503 before the first or when they stall.
func (st *served) health(w http.ResponseWriter, _ *http.Request) {
	st.mu.Lock()
	last := st.last
	st.mu.Unlock()
	switch {
	case last.IsZero():
		http.Error(w, "no evaluation yet", http.StatusServiceUnavailable)
	case time.Since(last) > 2*st.interval:
		http.Error(w, fmt.Sprintf("last evaluation ended %s ago", time.Since(last).Round(time.Second)), http.StatusServiceUnavailable)
	default:
		fmt.Fprintln(w, "ok")
	}
}
