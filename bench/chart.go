package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"sort"
	"strconv"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xd6, 0x27, 0x28, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
	{0xff, 0x7f, 0x0e, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
}

// writeChart draws the cumulative distribution of every latency series on a logarithmic
// time axis: the further right a curve ends, the worse its tail.
func writeChart(path string, series map[string][]time.Duration) error {
	const w, h, left, right, top, bottom = 900, 520, 70, 20, 30, 60
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.White}, image.Point{}, draw.Src)
	grey := color.RGBA{0xcc, 0xcc, 0xcc, 0xff}
	black := color.RGBA{0, 0, 0, 0xff}

	names := make([]string, 0, len(series))
	maxMs := 1.0
	for n, s := range series {
		if len(s) == 0 {
			continue
		}
		names = append(names, n)
		maxMs = math.Max(maxMs, ms(percentile(s, 100)))
	}
	sort.Strings(names)
	lo, hi := math.Log10(0.1), math.Ceil(math.Log10(maxMs))
	x := func(msv float64) int {
		if msv < 0.1 {
			msv = 0.1
		}
		return left + int((math.Log10(msv)-lo)/(hi-lo)*float64(w-left-right))
	}
	y := func(frac float64) int { return h - bottom - int(frac*float64(h-top-bottom)) }

	for d := lo; d <= hi; d++ { // decade grid lines
		px := x(math.Pow(10, d))
		vline(img, px, y(1), y(0), grey)
		label(img, px-12, h-bottom+16, strconv.FormatFloat(math.Pow(10, d), 'g', 3, 64)+"ms", black)
	}
	for _, f := range []float64{0, 0.5, 0.9, 1} {
		hline(img, left, w-right, y(f), grey)
		label(img, 8, y(f)+4, fmt.Sprintf("%.2f", f), black)
	}
	label(img, left, 18, "latency, command produced -> event consumed (cumulative fraction)", black)
	for i, n := range names {
		c := palette[i%len(palette)]
		s := append([]time.Duration(nil), series[n]...)
		sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
		px, py := x(ms(s[0])), y(0)
		for j, d := range s {
			nx, ny := x(ms(d)), y(float64(j+1)/float64(len(s)))
			line(img, px, py, nx, ny, c)
			px, py = nx, ny
		}
		lx := left + 10 + (i%3)*270
		ly := h - 22 + (i/3)*14 - 8
		hline(img, lx, lx+20, ly-4, c)
		label(img, lx+26, ly, fmt.Sprintf("%s (n=%d)", n, len(s)), black)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return png.Encode(f, img)
}

func label(img *image.RGBA, x, y int, s string, c color.Color) {
	d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func hline(img *image.RGBA, x0, x1, y int, c color.Color) {
	for x := x0; x <= x1; x++ {
		img.Set(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.Color) {
	for y := y0; y <= y1; y++ {
		img.Set(x, y, c)
	}
}

// line draws a segment with Bresenham's algorithm.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.Set(x0, y0, c)
		img.Set(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(a int) int {
	if a < 0 {
		return -a
	}
	return a
}

func sign(a int) int {
	switch {
	case a > 0:
		return 1
	case a < 0:
		return -1
	}
	return 0
}
