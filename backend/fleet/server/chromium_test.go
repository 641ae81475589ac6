package server

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/fieldlink/fieldlink/backend/areas"
	"github.com/fieldlink/fieldlink/backend/fleet/upload"
	"github.com/fieldlink/fieldlink/backend/testbed/chromium"
	"github.com/fieldlink/fieldlink/backend/testbed/fleetsample"
)

// browse opens a page of the server in headless Chromium, signed in with
// the viewer's link, and returns the document as the browser built it.
func (r *rig) browse(t testing.TB, next string) *html.Node {
	t.Helper()
	browser := chromium.Find(t, "open the fleet page with")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	u := r.srv.URL + "/login?" + url.Values{"token": {r.viewer}, "next": {next}}.Encode()
	cmd := chromium.Headless(ctx, browser, dir, "--dump-dom", u)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	doc, err := html.Parse(strings.NewReader(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// mapMarks reads the page's map as the browser built it: its circles
// (areas and legend), those linked to an area's page, and the titles.
func mapMarks(doc *html.Node) (circles, linked int, titles []string) {
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode || n.Data != "svg" || attr(n, "class") != "map" {
			return
		}
		walk(n, func(c *html.Node) {
			if c.Type == html.ElementNode && c.Data == "circle" {
				circles++
				if c.Parent != nil && c.Parent.Data == "a" && strings.Contains(attr(c.Parent, "href"), "area=") {
					linked++
				}
			}
			if c.Type == html.ElementNode && c.Data == "title" {
				titles = append(titles, text(c))
			}
		})
	})
	return circles, linked, titles
}

func walk(n *html.Node, fn func(*html.Node)) {
	fn(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

// heat is the operator × area table as the browser shows it: its header
// and each row's cells as text.
func heat(doc *html.Node) (head []string, rows [][]string, links map[string]string) {
	links = map[string]string{}
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode || n.Data != "table" || attr(n, "class") != "heat" {
			return
		}
		walk(n, func(tr *html.Node) {
			if tr.Type != html.ElementNode || tr.Data != "tr" {
				return
			}
			var cells []string
			for c := tr.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode && (c.Data == "td" || c.Data == "th") {
					cells = append(cells, strings.TrimSpace(text(c)))
					walk(c, func(a *html.Node) {
						if a.Type == html.ElementNode && a.Data == "a" {
							links[strings.TrimSpace(text(a))] = attr(a, "href")
						}
					})
				}
			}
			if head == nil {
				head = cells
			} else {
				rows = append(rows, cells)
			}
		})
	})
	return head, rows, links
}

// TestFleetPageInChromium: IT signs in with the viewer link and reads the
// fleet page in a real browser: the operator × area table with dead zones
// first, the period, the filters, and links from each area and device to
// its detail, which work.
func TestFleetPageInChromium(t *testing.T) {
	r := newRig(t)
	for i := range r.paths {
		if _, err := r.sync(i, upload.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	r.store.Refresh(context.Background())

	doc := r.browse(t, "/report")
	page := text(doc)
	for _, want := range []string{"2 – 3 Nov 2026", "33.3% of clinicians' devices (1 of 3)", "Dead zones", "EE (234-30): workable in 44.4% of 9 visits"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	head, rows, links := heat(doc)
	if len(head) != 5 || head[2] != "EE (234-30)" || len(rows) != 4 {
		t.Fatalf("table head %q, %d rows", head, len(rows))
	}
	if !strings.HasPrefix(rows[0][0], "Northfield") || !strings.Contains(rows[0][0], "DEAD ZONE") || rows[0][1] != "75% of 4" || rows[0][2] != "75% of 4" {
		t.Fatalf("first row %q", rows[0])
	}
	var form, groups bool
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "form" && attr(n, "class") == "filters" {
			form = true
		}
		if n.Type == html.ElementNode && n.Data == "option" && text(n) == "Community South" {
			groups = true
		}
	})
	if !form || !groups {
		t.Fatalf("filters: form %v, groups %v", form, groups)
	}

	// An area's link leads to its detail.
	href := links["Kings Heath"]
	if !strings.HasPrefix(href, "/report?") {
		t.Fatalf("Kings Heath links to %q (links %v)", href, links)
	}
	_, rows, _ = heat(r.browse(t, href))
	if len(rows) != 1 || !strings.HasPrefix(rows[0][0], "Kings Heath") || rows[0][1] != "100% of 3" {
		t.Fatalf("the Kings Heath page shows %q", rows)
	}
	// A device's link, and an operator filter.
	var devHref string
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "a" && strings.HasPrefix(text(n), "tb-nurse-3") {
			devHref = attr(n, "href")
		}
	})
	dev := text(r.browse(t, devHref))
	// tb-nurse-3: one of its two visits workable, so it does not reach
	// the 85% mark: "0% ... (0 of 1)".
	if !strings.Contains(dev, "(0 of 1)") || !strings.Contains(dev, "Whole fleet") {
		t.Fatalf("the tb-nurse-3 page (%s) does not show one device's figures", devHref)
	}
	head, _, _ = heat(r.browse(t, "/report?network="+url.QueryEscape("Vodafone UK (234-15)")))
	if len(head) != 3 || head[2] != "Vodafone UK (234-15)" {
		t.Fatalf("network filter: head %q", head)
	}
}

// TestFleetMapInChromium: with an area map that places its areas, the page
// draws them where they are as inline SVG (no tile fetched from anywhere),
// each with a title giving its share, its visits and the best operator
// there, and a link to its own page; a browser lays it out.
func TestFleetMapInChromium(t *testing.T) {
	r := newRig(t)
	for i := range r.paths {
		if _, err := r.sync(i, upload.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	r.store.Refresh(context.Background())
	withBoxes := strings.NewReplacer(
		`cells = ["234-30 TAC 2C10", "234-15 TAC 1F2A"]`, "cells = [\"234-30 TAC 2C10\", \"234-15 TAC 1F2A\"]\nboxes = [[52.40, -1.99, 52.42, -1.96]]",
		`cells = ["234-30 TAC 2C11", "234-15 TAC 1F2B"]`, "cells = [\"234-30 TAC 2C11\", \"234-15 TAC 1F2B\"]\nboxes = [[52.43, -1.90, 52.44, -1.88]]",
		`cells = ["234-30 TAC 2C12", "234-15 TAC 1F2C"]`, "cells = [\"234-30 TAC 2C12\", \"234-15 TAC 1F2C\"]\nboxes = [[52.39, -2.01, 52.40, -1.99]]",
	).Replace(fleetsample.AreaMap)
	placed, err := areas.Parse("areas.toml", []byte(withBoxes))
	if err != nil {
		t.Fatal(err)
	}
	r.srv.Close()
	r.srv = httptest.NewServer(New(r.store, Options{VisitShare: 0.8, DeviceShare: 0.85, Areas: placed}).Handler())
	circles, linked, titles := mapMarks(r.browse(t, "/report"))
	if circles != 3+4 || linked != 3 {
		t.Fatalf("the map has %d circles (want 3 areas and 4 in the legend), %d linked to their area", circles, linked)
	}
	all := strings.Join(titles, "\n")
	for _, want := range []string{"Northfield: workable in 75% of 4 visits; best ", "Longbridge: workable in ", "; a dead zone"} {
		if !strings.Contains(all, want) {
			t.Errorf("the map's titles lack %q:\n%s", want, all)
		}
	}
}
