// Package plots draws the benchmark suite's PNG figures from a
// results.Run: requests/s per gateway core, latency percentiles, XDP
// against nftables, and the throttling timeline.
//
// It reads the results only; it never measures. A figure whose data is
// absent from the run is not drawn, so a partial run gives fewer files,
// never an empty chart.
package plots

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/edgeguard/edgeguard/bench/suite/results"
)

// File names of the figures, relative to the output directory.
const (
	RPSPerCoreFile = "http_rps_per_core.png"
	LatencyFile    = "http_latency.png"
	XDPFile        = "xdp_vs_nftables.png"
	ThrottleFile   = "throttle_timeline.png"
)

// dpi of every PNG: 96 keeps a 10-inch figure under 1000 pixels wide.
const dpi = 96

// Draw writes every figure the run has data for into dir and returns
// their file names (relative to dir), in the order of the constants above.
func Draw(dir string, r *results.Run) ([]string, error) {
	var written []string
	for _, f := range []struct {
		name string
		draw func(*results.Run) (*figure, error)
	}{
		{RPSPerCoreFile, rpsPerCore},
		{LatencyFile, latency},
		{XDPFile, xdpFlood},
		{ThrottleFile, throttle},
	} {
		fig, err := f.draw(r)
		if err != nil {
			return written, fmt.Errorf("draw %s: %w", f.name, err)
		}
		if fig == nil {
			continue
		}
		if err := fig.save(filepath.Join(dir, f.name)); err != nil {
			return written, fmt.Errorf("draw %s: %w", f.name, err)
		}
		written = append(written, f.name)
	}
	return written, nil
}

// figure is a grid of plots (nil cells left blank) and its size.
type figure struct {
	grid [][]*plot.Plot
	w, h vg.Length
}

func single(p *plot.Plot, w, h vg.Length) *figure {
	return &figure{grid: [][]*plot.Plot{{p}}, w: w, h: h}
}

// save renders the figure as a PNG, atomically.
func (f *figure) save(path string) error {
	img := vgimg.NewWith(vgimg.UseWH(f.w, f.h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	if len(f.grid) == 1 && len(f.grid[0]) == 1 {
		f.grid[0][0].Draw(dc)
	} else {
		tiles := draw.Tiles{Rows: len(f.grid), Cols: len(f.grid[0]),
			PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
			PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
			PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
		cells := plot.Align(f.grid, tiles, dc)
		for j, row := range f.grid {
			for i, p := range row {
				if p != nil {
					p.Draw(cells[j][i])
				}
			}
		}
	}
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(out); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// palette gives each target the same color in every figure.
type palette map[string]color.Color

func newPalette(targets []string) palette {
	p := make(palette, len(targets))
	for i, t := range targets {
		p[t] = plotutil.Color(i)
	}
	return p
}

// httpAxes are the scenarios and targets of the summary, in the order
// they first appear, and the summary rows indexed by scenario and target.
func httpAxes(h *results.HTTP) (scenarios, targets []string, rows map[[2]string]results.HTTPSummary) {
	rows = make(map[[2]string]results.HTTPSummary)
	for _, s := range h.Summary {
		if !slices.Contains(scenarios, s.Scenario) {
			scenarios = append(scenarios, s.Scenario)
		}
		if !slices.Contains(targets, s.Target) {
			targets = append(targets, s.Target)
		}
		rows[[2]string{s.Scenario, s.Target}] = s
	}
	return scenarios, targets, rows
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	return p
}

// rotateX tilts the X tick labels when they would overlap.
func rotateX(p *plot.Plot, n int) {
	if n > 4 {
		p.X.Tick.Label.Rotation = 0.5
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
}

// rpsPerCore is grouped bars: one group per scenario, one bar per target
// that has a gateway (the direct target has no gateway CPU).
func rpsPerCore(r *results.Run) (*figure, error) {
	if r.HTTP == nil || len(r.HTTP.Summary) == 0 {
		return nil, nil
	}
	scenarios, targets, rows := httpAxes(r.HTTP)
	colors := newPalette(targets)
	var shown []string
	for _, t := range targets {
		for _, s := range scenarios {
			if rows[[2]string{s, t}].MedianRPSPerCore > 0 {
				shown = append(shown, t)
				break
			}
		}
	}
	if len(shown) == 0 {
		return nil, nil
	}
	p := newPlot("Requests/s per gateway core (median over rounds)", "", "requests/s per core")
	groupW := vg.Points(min(60, 360/float64(len(scenarios))))
	barW := groupW / vg.Length(len(shown))
	for i, t := range shown {
		vals := make(plotter.Values, len(scenarios))
		for j, s := range scenarios {
			vals[j] = rows[[2]string{s, t}].MedianRPSPerCore
		}
		b, err := plotter.NewBarChart(vals, barW)
		if err != nil {
			return nil, err
		}
		b.Color = colors[t]
		b.LineStyle.Width = 0
		b.Offset = barW * (vg.Length(i) - vg.Length(len(shown)-1)/2)
		p.Add(b)
		p.Legend.Add(t, b)
	}
	p.Add(plotter.NewGrid())
	p.NominalX(scenarios...)
	rotateX(p, len(scenarios))
	p.Y.Min = 0
	p.Y.Tick.Marker = siTicks{}
	headroom(p, 1.2)
	padX(p)
	w := max(7*vg.Inch, vg.Length(len(scenarios))*1.3*vg.Inch)
	return single(p, w, 4.5*vg.Inch), nil
}

// percentiles are the latency points drawn, in order.
var percentiles = []struct {
	name string
	get  func(results.Percentiles) float64
}{
	{"p50", func(p results.Percentiles) float64 { return p.P50 }},
	{"p90", func(p results.Percentiles) float64 { return p.P90 }},
	{"p99", func(p results.Percentiles) float64 { return p.P99 }},
	{"p99.9", func(p results.Percentiles) float64 { return p.P999 }},
}

// latency is one panel per scenario: each target's median percentiles as a
// line over p50, p90, p99, p99.9, on a log scale.
func latency(r *results.Run) (*figure, error) {
	if r.HTTP == nil || len(r.HTTP.Summary) == 0 {
		return nil, nil
	}
	scenarios, targets, rows := httpAxes(r.HTTP)
	colors := newPalette(targets)
	names := make([]string, len(percentiles))
	for i, pc := range percentiles {
		names[i] = pc.name
	}
	var panels []*plot.Plot
	for _, s := range scenarios {
		p := newPlot(s, "", "latency (µs)")
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
		lines := 0
		for _, t := range targets {
			row, ok := rows[[2]string{s, t}]
			if !ok {
				continue
			}
			xys := make(plotter.XYs, 0, len(percentiles))
			for i, pc := range percentiles {
				// A log scale has no zero: a missing percentile is left out.
				if v := pc.get(row.MedianLatency); v > 0 {
					xys = append(xys, plotter.XY{X: float64(i), Y: v})
				}
			}
			if len(xys) == 0 {
				continue
			}
			l, pts, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, err
			}
			l.Color, pts.Color = colors[t], colors[t]
			l.Width = vg.Points(1.5)
			p.Add(l, pts)
			p.Legend.Add(t, l, pts)
			lines++
		}
		if lines == 0 {
			continue
		}
		p.Add(plotter.NewGrid())
		p.NominalX(names...)
		p.Legend.Left = true
		panels = append(panels, p)
	}
	if len(panels) == 0 {
		return nil, nil
	}
	cols := min(3, len(panels))
	rowsN := (len(panels) + cols - 1) / cols
	grid := make([][]*plot.Plot, rowsN)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
		for j := range cols {
			if k := i*cols + j; k < len(panels) {
				grid[i][j] = panels[k]
			}
		}
	}
	pw, ph := 3.6*vg.Inch, 3.2*vg.Inch
	if cols == 1 {
		pw, ph = 5*vg.Inch, 4*vg.Inch
	}
	return &figure{grid: grid, w: vg.Length(cols) * pw, h: vg.Length(rowsN) * ph}, nil
}

// xdpFlood is two panels, one bar per dropper: packets dropped per
// second (sent drawn behind) and CPU seconds per million packets.
func xdpFlood(r *results.Run) (*figure, error) {
	if r.XDPFlood == nil || len(r.XDPFlood.Results) == 0 {
		return nil, nil
	}
	res := r.XDPFlood.Results
	names := make([]string, len(res))
	sent := make(plotter.Values, len(res))
	dropped := make(plotter.Values, len(res))
	cpu := make(plotter.Values, len(res))
	for i, fr := range res {
		names[i] = fr.Dropper
		sent[i], dropped[i], cpu[i] = fr.SentPPS, fr.DroppedPPS, fr.CPUSecondsPerMillionPackets
	}
	barW := vg.Points(40)
	pps := newPlot("Flood dropped (packets/s)", "", "packets/s")
	sb, err := plotter.NewBarChart(sent, barW)
	if err != nil {
		return nil, err
	}
	sb.Color = color.Gray{Y: 200}
	sb.LineStyle.Width = 0
	sb.Offset = -barW / 2
	db, err := plotter.NewBarChart(dropped, barW)
	if err != nil {
		return nil, err
	}
	db.Color = plotutil.Color(0)
	db.LineStyle.Width = 0
	db.Offset = barW / 2
	pps.Add(plotter.NewGrid(), sb, db)
	pps.Legend.Add("sent", sb)
	pps.Legend.Add("dropped", db)
	pps.NominalX(names...)
	pps.Y.Min = 0
	pps.Y.Tick.Marker = siTicks{}
	headroom(pps, 1.25)
	padX(pps)

	cp := newPlot("CPU per million packets", "", "CPU seconds (receiver, softirq included)")
	cb, err := plotter.NewBarChart(cpu, barW)
	if err != nil {
		return nil, err
	}
	cb.Color = plotutil.Color(1)
	cb.LineStyle.Width = 0
	cp.Add(plotter.NewGrid(), cb)
	cp.NominalX(names...)
	cp.Y.Min = 0
	padX(cp)
	return &figure{grid: [][]*plot.Plot{{pps, cp}}, w: 9 * vg.Inch, h: 4 * vg.Inch}, nil
}

// throttle draws each kind of answer per second over the run, with the
// configured rate as a dashed line.
func throttle(r *results.Run) (*figure, error) {
	t := r.Throttle
	if t == nil || len(t.Buckets) == 0 {
		return nil, nil
	}
	per := t.BucketSeconds
	if per <= 0 {
		per = 1
	}
	p := newPlot(fmt.Sprintf("Graduated limiter: %.0f req/s offered against a limit of %.0f req/s", t.OfferedPerSecond, t.RatePerSecond),
		"seconds since start", "answers per second")
	series := []struct {
		name string
		get  func(results.ThrottleBucket) int
	}{
		{"passed", func(b results.ThrottleBucket) int { return b.Passed }},
		{"delayed", func(b results.ThrottleBucket) int { return b.Delayed }},
		{"429", func(b results.ThrottleBucket) int { return b.Limited }},
		{"dropped", func(b results.ThrottleBucket) int { return b.Dropped }},
	}
	for i, s := range series {
		xys := make(plotter.XYs, len(t.Buckets))
		for j, b := range t.Buckets {
			xys[j] = plotter.XY{X: b.T, Y: float64(s.get(b)) / per}
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	if t.RatePerSecond > 0 {
		first, last := t.Buckets[0].T, t.Buckets[len(t.Buckets)-1].T
		l, err := plotter.NewLine(plotter.XYs{{X: first, Y: t.RatePerSecond}, {X: last, Y: t.RatePerSecond}})
		if err != nil {
			return nil, err
		}
		l.Color = color.Gray{Y: 100}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add("limit", l)
	}
	p.Add(plotter.NewGrid())
	p.Y.Min = 0
	headroom(p, 1.6)
	return single(p, 8*vg.Inch, 4*vg.Inch), nil
}

// headroom raises the top of the Y axis so that the legend, drawn in the
// top corner, does not cover the tallest data.
func headroom(p *plot.Plot, f float64) {
	p.Y.Max *= f
}

// padX leaves half a category of space at both ends of a nominal X axis.
func padX(p *plot.Plot) {
	p.X.Min -= 0.5
	p.X.Max += 0.5
}

// siTicks are the default ticks labelled with SI prefixes (40k, 1.2M).
type siTicks struct{}

var _ plot.Ticker = siTicks{}

func (siTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = si(ticks[i].Value)
		}
	}
	return ticks
}

func si(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return strconv.FormatFloat(v/1e9, 'f', -1, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// logTicks marks 1, 2 and 5 times each power of ten in range, labelled,
// with unlabelled minor ticks between: plot.LogTicks labels only the
// powers of ten, often a single one over a latency range.
type logTicks struct{}

var _ plot.Ticker = logTicks{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return nil
	}
	var ticks []plot.Tick
	for p := math.Pow(10, math.Floor(math.Log10(lo))); p <= hi; p *= 10 {
		for m := 1; m <= 9; m++ {
			v := p * float64(m)
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'f', -1, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}
