package main

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// renderSVG draws docs/performance.svg: the rtt throughput of every
// non-direct path relative to direct (linear, 1.0 = direct) against the
// message size (log scale).
func renderSVG(res *Results) ([]byte, error) {
	d := newDoc(res)
	sizes := res.Config.Sizes
	if len(sizes) == 0 {
		return nil, fmt.Errorf("compare: no sizes to plot")
	}
	p := plot.New()
	p.Title.Text = "rtt throughput relative to a direct connection"
	if res.Config.Quick {
		p.Title.Text += " (-quick smoke run)"
	}
	p.X.Label.Text = "message size (log scale)"
	p.Y.Label.Text = "msgs/s ÷ direct (1.0 = direct)"
	p.X.Scale = plot.LogScale{}
	ticks := make([]plot.Tick, len(sizes))
	for i, s := range sizes {
		ticks[i] = plot.Tick{Value: float64(s), Label: formatSize(s)}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	lo, hi := float64(sizes[0]), float64(sizes[len(sizes)-1])
	for _, s := range sizes {
		lo, hi = math.Min(lo, float64(s)), math.Max(hi, float64(s))
	}
	p.X.Min, p.X.Max = lo/1.5, hi*1.5

	top := 1.0
	i := 0
	for _, path := range d.tablePaths() {
		if path == pathDirect {
			continue
		}
		var xys plotter.XYs
		for _, s := range sizes {
			if r, ok := d.ratio(workRTT, s, path, pathDirect, valMsgsPerS); ok {
				xys = append(xys, plotter.XY{X: float64(s), Y: r})
				top = math.Max(top, r)
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		pts.Color = plotutil.Color(i)
		pts.Shape = plotutil.Shape(i)
		pts.Radius = vg.Points(3)
		p.Add(l, pts)
		p.Legend.Add(path, l, pts)
		i++
	}
	one, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: 1}, {X: p.X.Max, Y: 1}})
	if err != nil {
		return nil, err
	}
	one.Color = color.Gray{Y: 96}
	one.Dashes = []vg.Length{vg.Points(5), vg.Points(4)}
	p.Add(one)
	p.Legend.Add("direct (1.0)", one)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), -vg.Points(4)
	// Room above the lines for the legend, in the upper left.
	p.Y.Min, p.Y.Max = 0, math.Max(1.5, top*1.35)
	p.Add(plotter.NewGrid())

	c := vgsvg.New(8*vg.Inch, 4.5*vg.Inch)
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
