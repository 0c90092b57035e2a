package inject

import "testing"

// TestRichText: the HTML a rich-text editor or an e-mail template sends
// passes where libinjection flags it by name (style, iframe, svg, meta);
// markup with anything a sanitizer would strip stays XSS.
func TestRichText(t *testing.T) {
	benign := []string{
		`<p style="text-align: center;">Hi</p>`,
		`<span style="color: rgb(255, 0, 0);">red</span> and <b>bold</b>`,
		`<div style="font-family: Arial, sans-serif; margin: 0 auto">Don't worry</div>`,
		`<iframe width="560" height="315" src="https://www.youtube.com/embed/dQw4w9WgXcQ" title="YouTube video player" frameborder="0" allow="accelerometer; autoplay; clipboard-write; encrypted-media; gyroscope; picture-in-picture" allowfullscreen></iframe>`,
		`<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==" alt="x">`,
		`<svg width="24" height="24" viewBox="0 0 24 24"><path d="M12 2L2 7l10 5 10-5-10-5z"/></svg>`,
		`<style>.a { color: red; }</style><p class="a">x</p>`,
		`<meta charset="utf-8"><p>Hello</p>`,
		`<table style="width:100%"><tr><td style="padding: 4px" data-id="7">a</td></tr></table>`,
		`<p style="background-image: url('https://example.com/bg.png')">x</p>`,
		`<h1 style="font-size: 2em">Sale</h1><p>Prices 3 < 5 <a href="/deals?x=1&amp;y=2">here</a></p>`,
	}
	attacks := []string{
		`<p style="x:expression(alert(1))">x</p>`,
		`<div style="behaviour: url(https://x.example/kcf.htc)">x</div>`,
		`<div style="background:url(javascript:alert(1))">x</div>`,
		`<div style="background:url(test.svg)">x</div>`,
		`<style>@import 'https://x.example/a.css';</style>`,
		`<style>a{x:1}</style><img src=x onerror=alert(1)>`,
		`<p style="color:red" onclick="alert(1)">x</p>`,
		`<iframe src="javascript:alert(1)"></iframe>`,
		`<iframe src="http://x.example/"></iframe>`,
		`<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>`,
		`<a href="jav&#x09;ascript:alert(1)" style="x">x</a>`,
		`<img src="x:alert(1)" style="a">`,
		`<svg><script>alert(1)</script></svg>`,
		`<svg><animate onbegin=alert(1) attributeName=x dur=1s>`,
		`<svg><style><img src=x onerror=alert(1)></style></svg>`,
		`<p title="</p><img src=x onerror=alert(1)>" style="a">x</p>`,
		`<meta charset="x-imap4-modified-utf7">&ADz&AGn&AG0`,
		`<meta http-equiv="refresh" content="0;url=https://x.example">`,
		`<div data-bind="click: alert(1)" style="a">x</div>`,
		`<div data-ng-click="alert(1)" style="a">x</div>`,
		`x" style="a" onmouseover="alert(1)`,
		`<svg/onload=alert(1)>`,
		`<!--<p style="a">--><script>alert(1)</script>`,
		`<link rel="stylesheet" href="https://x.example/steal.css">`,
		`<video poster="javascript:alert(1)" style="a"></video>`,
	}
	d := mustNew(t, Options{})
	var sc Scratch
	for _, v := range benign {
		if r := inspectQuery(d, &sc, v); r.Detected() {
			t.Errorf("benign %q: %v (%s)", v, r.Kind, r.Rule)
		}
		if !safeRichText([]byte(v)) {
			t.Errorf("benign %q: not rich text", v)
		}
	}
	for _, v := range attacks {
		if r := inspectQuery(d, &sc, v); !r.Detected() {
			t.Errorf("attack %q: not detected", v)
		}
		if safeRichText([]byte(v)) {
			t.Errorf("attack %q: read as safe rich text", v)
		}
	}
}
