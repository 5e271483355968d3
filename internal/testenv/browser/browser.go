// Package browser holds what the Chromium tests of the portal and of the fleet pages
// both ask of a page: axe-core's serious and critical violations, and the controls
// the Tab key never reaches. It stands apart from internal/testenv so that only those
// tests link chromedp.
package browser

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// AxeViolations injects axe-core (its source, src) into the page of ctx, runs it and
// returns its violations of impact serious or critical, one line each (rule, impact,
// the elements at fault).
func AxeViolations(t testing.TB, ctx context.Context, src string) []string {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+";\ntrue"))
	require.NoError(t, err, "inject axe-core")
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`axe.run(document, {resultTypes: ['violations']}).then(function (r) {
		return r.violations.filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; }).map(function (v) {
			return v.id + ' (' + v.impact + '): ' + v.help + ': ' + v.nodes.map(function (n) { return n.target.join(' '); }).join(', ');
		});
	})`, chromedp.EvalAwaitPromise))
	require.NoError(t, err, "axe.run")
	return out
}

// UnreachedByTab presses Tab through the page of ctx and returns the visible
// controls it never focused (a radio group counts as reached when its checked radio
// is: arrows move inside it).
func UnreachedByTab(t testing.TB, ctx context.Context) []string {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(function () {
		var all = Array.prototype.filter.call(document.querySelectorAll('a[href], button, input, select, textarea, summary'), function (e) {
			return !e.disabled && e.type !== 'hidden' && e.getClientRects().length > 0 && !(e.type === 'radio' && !e.checked);
		});
		all.forEach(function (e, i) { e.dataset.kb = String(i); });
		window.kbReached = {};
		document.activeElement && document.activeElement.blur();
		return all.length;
	})()`))
	require.NoError(t, err)
	require.Positive(t, n)
	for range n + 10 {
		require.NoError(t, chromedp.Do(ctx, chromedp.KeyEvent("\t")))
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function () { var e = document.activeElement; if (e && e.dataset.kb) window.kbReached[e.dataset.kb] = true; return true; })()`))
		require.NoError(t, err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.prototype.filter.call(document.querySelectorAll('[data-kb]'), function (e) { return !window.kbReached[e.dataset.kb]; }).map(function (e) { return e.outerHTML.slice(0, 120); })`))
	require.NoError(t, err)
	return out
}
