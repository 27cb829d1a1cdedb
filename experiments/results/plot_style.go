package results

import (
	"image/color"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// lineStyle is how one line of a plot is drawn: its colour, its marker and
// its dash pattern (nil: solid).
type lineStyle struct {
	color  color.Color
	glyph  draw.GlyphDrawer
	dashes []vg.Length
}

// Dash patterns, in points. Lines whose colours turn to similar greys
// (greyscale printing, colour-vision deficiencies) differ in these.
var (
	dashSolid   []vg.Length
	dashLong    = []vg.Length{vg.Points(7), vg.Points(3)}
	dashDotted  = []vg.Length{vg.Points(1.5), vg.Points(2.5)}
	dashDashDot = []vg.Length{vg.Points(6), vg.Points(2.5), vg.Points(1.5), vg.Points(2.5)}
)

// plotStyles are the lines' styles, in the order lines get them. Each has
// its own colour and its own marker, so that up to len(plotStyles) lines
// never share either (the 7 colours of Okabe–Ito, which are distinguishable
// with the common colour-vision deficiencies, came back after 7 lines).
// The colours fall into three bands of lightness in greyscale (Rec. 601
// luma: dark below 0.3, mid, light above 0.5), four to a band, and the four
// of a band have four different dash patterns; the dash groups were chosen
// so that lines sharing a pattern differ by at least 0.12 in luma. Okabe–Ito
// comes first, then colours of Paul Tol's palettes.
var plotStyles = []lineStyle{
	{rgb(0x0072B2), draw.CircleGlyph{}, dashSolid},               // blue, mid
	{rgb(0xD55E00), draw.SquareGlyph{}, dashLong},                // vermillion, mid
	{rgb(0x009E73), draw.PyramidGlyph{}, dashDotted},             // bluish green, mid
	{rgb(0xCC79A7), diamondGlyph{}, dashDashDot},                 // reddish purple, light
	{rgb(0xE69F00), draw.BoxGlyph{}, dashSolid},                  // orange, light
	{rgb(0x56B4E9), draw.RingGlyph{}, dashLong},                  // sky blue, light
	{rgb(0x000000), draw.TriangleGlyph{}, dashSolid},             // black, dark
	{rgb(0x999933), diamondGlyph{filled: true}, dashDotted},      // olive, light
	{rgb(0x882255), draw.CrossGlyph{}, dashLong},                 // wine, dark
	{rgb(0x7B3294), draw.PlusGlyph{}, dashDashDot},               // purple, mid
	{rgb(0x663300), downTriangleGlyph{filled: true}, dashDotted}, // brown, dark
	{rgb(0x332288), downTriangleGlyph{}, dashDashDot},            // indigo, dark
}

// plotStyle is the style of the i-th line. Past len(plotStyles) lines the
// colours repeat, but each round shifts the markers by one, so that no two
// of the first len(plotStyles)² lines share both colour and marker.
func plotStyle(i int) lineStyle {
	n := len(plotStyles)
	s := plotStyles[i%n]
	s.glyph = plotStyles[(i+i/n)%n].glyph
	return s
}

func rgb(v uint32) color.RGBA {
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xFF}
}

// luma is a colour's lightness in greyscale, in [0, 1] (Rec. 601, what a
// greyscale conversion of a plot does).
func luma(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)) / 0xFFFF
}

// diamondGlyph is a square standing on a corner, outlined or filled; with
// downTriangleGlyph it takes gonum's six marker shapes to twelve.
type diamondGlyph struct{ filled bool }

func (g diamondGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius * 1.2
	var p vg.Path
	p.Move(vg.Point{X: pt.X, Y: pt.Y + r})
	p.Line(vg.Point{X: pt.X + r, Y: pt.Y})
	p.Line(vg.Point{X: pt.X, Y: pt.Y - r})
	p.Line(vg.Point{X: pt.X - r, Y: pt.Y})
	p.Close()
	fillOrStroke(c, sty, p, g.filled)
}

// downTriangleGlyph is a triangle pointing down, outlined or filled.
type downTriangleGlyph struct{ filled bool }

func (g downTriangleGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius * 1.25
	var p vg.Path
	p.Move(vg.Point{X: pt.X, Y: pt.Y - r})
	p.Line(vg.Point{X: pt.X - r*0.866, Y: pt.Y + r*0.5})
	p.Line(vg.Point{X: pt.X + r*0.866, Y: pt.Y + r*0.5})
	p.Close()
	fillOrStroke(c, sty, p, g.filled)
}

func fillOrStroke(c *draw.Canvas, sty draw.GlyphStyle, p vg.Path, filled bool) {
	if filled {
		c.Fill(p)
		return
	}
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: vg.Points(0.5)})
	c.Stroke(p)
}
