package portal

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/internal/i18n"
	"github.com/upkeep-go/upkeep/internal/pageguard"
	"github.com/upkeep-go/upkeep/update/agent"
)

//go:embed assets
var assets embed.FS

var (
	pageJS  = mustAsset("assets/portal.js")
	pageCSS = mustAsset("assets/portal.css")

	funcs = template.FuncMap{
		"deref": func(s *string) string {
			if s == nil {
				return ""
			}
			return *s
		},
		"iso":         func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"stamp":       i18n.FormatTime,
		"t":           tr,
		"kindLabel":   func(k agent.OpKind) string { return or(kindLabels[k], string(k)) },
		"resultLabel": func(r agent.OpResult) string { return or(resultLabels[r], string(r)) },
		"holdLabel":   func(h agent.HoldReason) string { return or(holdLabels[h], string(h)) },
		"resultClass": resultClass,
		"windowText":  windowText,
		"join":        strings.Join,
		"versions": func(from, to string) string {
			if from == "" && to == "" {
				return ""
			}
			return or(from, "—") + " → " + or(to, "—")
		},
	}
	pageTemplate  = template.Must(template.New("page.html").Funcs(funcs).ParseFS(assets, "assets/page.html"))
	loginTemplate = template.Must(template.New("login.html").Funcs(funcs).ParseFS(assets, "assets/login.html"))
)

func mustAsset(name string) string {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func resultClass(r agent.OpResult) string {
	switch r {
	case agent.ResultSucceeded:
		return "ok"
	case agent.ResultFailed:
		return "bad"
	case agent.ResultRunning:
		return "warn"
	}
	return ""
}

// The page's words for statuses, running operations and steps; portal.js has the same.
var (
	stateLabels = map[string][2]string{
		"up-to-date":  {"Up to date", "ok"},
		"update":      {"Update available", "info"},
		"installing":  {"Installing", "warn"},
		"maintenance": {"In maintenance", "warn"},
		"failed":      {"Failed", "bad"},
		"ineligible":  {"Ineligible", ""},
		"error":       {"Check failed", "bad"},
		"unknown":     {"Not checked yet", ""},
	}
	runningLabels = map[agent.OpKind]string{
		agent.OpInstall: "Installing", agent.OpRollback: "Rolling back",
		agent.OpCheck: "Checking", agent.OpScript: "Running a script",
	}
	stepLabels = map[string]string{
		"": "Starting", "check": "Checking", "download": "Downloading", "extract": "Extracting",
		"hook": "Running a hook", "maintenance": "Maintenance on", "backup": "Keeping a backup",
		"install": "Swapping in", "rollback": "Rolling back", "done": "Finishing",
		"script": "Running the script",
	}
)

// moduleData is a module with what the page shows of it worked out.
type moduleData struct {
	agent.ModuleView
	StateLabel, StateClass     string
	ReasonText, ReasonCode     string
	ReasonBad                  bool
	DownloadedText             string
	InstallLabel               string
	InstallDisabled            bool
	RollbackTo                 string
	StepLabel, BytesText       string
	ProgressMax, ProgressValue int64
	SourceText, SerialText     string
	BackupsText                string
	DB                         *dbData
}

// dbData is the database part of a module with what the page shows of it.
type dbData struct {
	agent.DatabaseView
	StateLabel, StateClass string
	AppliedText, DriftText string
	DriftCount             int
	NoNext                 bool
}

// dbStates are the page's words for database states; portal.js has the same.
var dbStates = map[string][2]string{
	"standard":   {"Standard", "ok"},
	"customised": {"Customised", "warn"},
	"empty":      {"Empty", ""},
	"unknown":    {"Unknown", ""},
}

func newDBData(l i18n.Lang, v *agent.DatabaseView, busy bool) *dbData {
	d := &dbData{DatabaseView: *v}
	st, ok := dbStates[v.State]
	if !ok {
		st = [2]string{v.State, ""}
	}
	d.StateLabel, d.StateClass = tr(l, st[0]), st[1]
	if v.Applied > 0 {
		d.AppliedText = tr(l, "script {0} applied", v.Applied)
	} else if v.State != "unknown" {
		d.AppliedText = tr(l, "no script applied")
	}
	d.DriftCount = len(v.Drift.Added) + len(v.Drift.Removed) + len(v.Drift.Changed)
	d.DriftText = tr(l, "{0} added, {1} removed, {2} changed", len(v.Drift.Added), len(v.Drift.Removed), len(v.Drift.Changed))
	d.NoNext = busy || len(v.Pending) == 0
	return d
}

func newModuleData(l i18n.Lang, m agent.ModuleView) moduleData {
	d := moduleData{ModuleView: m}
	st, ok := stateLabels[m.Status]
	if !ok {
		st = [2]string{m.Status, ""}
	}
	d.StateLabel, d.StateClass = tr(l, st[0]), st[1]
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	installed, latest := deref(m.Installed), deref(m.Latest)
	switch m.Status {
	case "failed":
		d.ReasonText, d.ReasonBad, d.ReasonCode = or(deref(m.Reason), m.LastError), true, deref(m.Code)
	case "error":
		d.ReasonText, d.ReasonBad, d.ReasonCode = or(m.LastError, deref(m.Reason)), true, deref(m.Code)
	case "ineligible":
		d.ReasonText, d.ReasonCode = deref(m.Reason), deref(m.Code)
	case "maintenance":
		d.ReasonText = tr(l, "In maintenance: visitors see the maintenance page.")
	default:
		if m.Diagnostics.Problem != "" {
			d.ReasonText = tr(l, "An install will fail: {0}", m.Diagnostics.Problem)
		}
	}
	switch {
	case latest == "" || latest == installed:
		d.DownloadedText = "—"
	case m.Downloaded:
		d.DownloadedText = tr(l, "Downloaded")
	default:
		d.DownloadedText = tr(l, "Not downloaded")
	}
	d.InstallLabel = tr(l, "Install")
	if latest != "" && latest != installed {
		d.InstallLabel = tr(l, "Install {0}", latest)
	}
	d.InstallDisabled = m.Operation != nil || m.Status == "up-to-date" || m.Status == "ineligible"
	for _, b := range m.Backups {
		if b != installed {
			d.RollbackTo = b
			break
		}
	}
	if op := m.Operation; op != nil {
		d.StateLabel, d.StateClass = tr(l, or(runningLabels[op.Kind], "Working")), "warn"
		d.StepLabel = op.Step
		if s, ok := stepLabels[op.Step]; ok {
			d.StepLabel = tr(l, s)
		}
		d.BytesText = progressBytes(l, op.Done, op.Total)
		if op.Total > 0 {
			d.ProgressMax, d.ProgressValue = op.Total, op.Done
		}
	}
	switch r := m.Diagnostics.SourceReachable; {
	case r == nil:
		d.SourceText = tr(l, "unknown (not checked yet)")
	case *r:
		d.SourceText = tr(l, "reachable")
	default:
		d.SourceText = tr(l, "unreachable")
	}
	d.SerialText = "—"
	if s := m.Diagnostics.ManifestSerial; s != nil {
		d.SerialText = strconv.FormatUint(*s, 10)
	}
	if m.Database != nil {
		d.DB = newDBData(l, m.Database, m.Operation != nil)
	}
	d.BackupsText = tr(l, "none")
	if len(m.Backups) > 0 {
		d.BackupsText = strings.Join(m.Backups, ", ")
	}
	return d
}

// progressBytes says how far a transfer is, as portal.js does.
func progressBytes(l i18n.Lang, done, total int64) string {
	switch {
	case total > 0:
		return tr(l, "{0} of {1} ({2} %)", i18n.FormatSize(l, done), i18n.FormatSize(l, total), done*100/total)
	case done > 0:
		return i18n.FormatSize(l, done)
	}
	return ""
}

type pageData struct {
	Lang       i18n.Lang
	Langs      []i18n.Choice
	Messages   map[string]string // what portal.js needs to write in Lang
	Token      string
	Session    bool // signed in through the form: the page offers to sign out
	CSS        template.CSS
	JS         template.JS
	Error      string
	Modules    []moduleData
	Operations []agent.Operation
	Settings   *settingsData // nil: the backend serves no settings
}

// settingsData is the settings form as the page fills it.
type settingsData struct {
	Interval, Source, Lang string
	AutoMode               string // "off", "always" or "window"
	Days                   []dayOption
	From, To               string
}

type dayOption struct {
	Value, Label string
	Checked      bool
}

// weekDays are the days of the window form, in the order it shows them.
var weekDays = [][2]string{{"mon", "Mon"}, {"tue", "Tue"}, {"wed", "Wed"}, {"thu", "Thu"}, {"fri", "Fri"}, {"sat", "Sat"}, {"sun", "Sun"}}

// dayNames are the days as a window's text writes them.
var dayNames = map[string]string{"mon": "mon", "tue": "tue", "wed": "wed", "thu": "thu", "fri": "fri", "sat": "sat", "sun": "sun"}

func newSettingsData(st agent.Settings) *settingsData {
	// The form's words are translated by the template; Label is the English.
	d := &settingsData{Interval: shortDuration(time.Duration(st.CheckInterval)), Source: st.Source, Lang: st.Lang, AutoMode: "off"}
	var days []string
	if w := st.AutoInstall; w != nil {
		d.AutoMode = "always"
		if len(w.Days) > 0 || w.Hours != "" {
			d.AutoMode = "window"
		}
		for _, x := range w.Days {
			days = append(days, strings.ToLower(x))
		}
		d.From, d.To, _ = strings.Cut(w.Hours, "-")
	}
	for _, wd := range weekDays {
		d.Days = append(d.Days, dayOption{Value: wd[0], Label: wd[1], Checked: d.AutoMode == "window" && (len(days) == 0 || slices.Contains(days, wd[0]))})
	}
	return d
}

// shortDuration writes d as the settings form shows it: "24h", "90m", "2h30m".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// windowText says when automatic installs happen, as the page and portal.js write it.
func windowText(l i18n.Lang, w *agent.WindowView) string {
	if w == nil {
		return tr(l, "No automatic install")
	}
	if len(w.Days) == 0 && w.Hours == "" {
		return tr(l, "Any time")
	}
	days := tr(l, "every day")
	if len(w.Days) > 0 {
		names := make([]string, len(w.Days))
		for i, d := range w.Days {
			names[i] = tr(l, dayNames[d])
		}
		days = strings.Join(names, ", ")
	}
	hours := tr(l, "all day")
	if w.Hours != "" {
		hours = w.Hours
	}
	return days + " · " + hours
}

// shownOperations is how many operations the page lists.
const shownOperations = 20

func (p *Portal) servePage(w http.ResponseWriter, r *http.Request) {
	if !p.guard.Authenticated(r) {
		p.renderLogin(w, r, http.StatusUnauthorized, "")
		return
	}
	l := p.lang(w, r)
	data := pageData{Lang: l, Langs: i18n.Choices(l), Messages: messages.For(l), Token: p.guard.Token(), Session: pageguard.AuthOf(r) == pageguard.AuthSession, CSS: template.CSS(pageCSS), JS: template.JS(pageJS)}
	mods, err := p.b.Modules(r.Context())
	if err != nil {
		p.log.Error("portal: modules", "err", err)
		data.Error = tr(l, "Could not read the modules: {0}", err.Error())
	}
	for _, m := range mods {
		data.Modules = append(data.Modules, newModuleData(l, m))
	}
	if sb, ok := p.b.(SettingsBackend); ok {
		if st, err := sb.Settings(r.Context()); err == nil {
			data.Settings = newSettingsData(st)
		} else {
			p.log.Error("portal: settings", "err", err)
		}
	}
	if data.Operations, err = p.b.Operations(r.Context(), "", shownOperations); err != nil {
		p.log.Error("portal: operations", "err", err)
		data.Error = strings.TrimSpace(data.Error + " " + tr(l, "Could not read the operations: {0}", err.Error()))
	}
	p.render(w, http.StatusOK, p.page, data)
}

func (p *Portal) render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		p.log.Error("portal: render", "template", t.Name(), "err", err)
		http.Error(w, "portal: render: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type loginData struct {
	Lang  i18n.Lang
	CSS   template.CSS
	Token string
	Error string
}

func (p *Portal) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string, args ...any) {
	l := p.lang(w, r)
	if msg != "" {
		msg = tr(l, msg, args...)
	}
	p.render(w, status, loginTemplate, loginData{Lang: l, CSS: template.CSS(pageCSS), Token: p.guard.Token(), Error: msg})
}

func (p *Portal) serveLogin(w http.ResponseWriter, r *http.Request) {
	if p.guard.Authenticated(r) {
		toPage(w)
		return
	}
	p.renderLogin(w, r, http.StatusOK, "")
}

// postLogin starts a login session when the form carries the secret. The form
// carries the page token in a field (a form cannot send a header), which the guard
// checks, and passed the cross-origin check.
func (p *Portal) postLogin(w http.ResponseWriter, r *http.Request) {
	if !p.guard.NeedsLogin() {
		toPage(w)
		return
	}
	err := p.guard.Login(w, r)
	var ge *pageguard.Error
	switch {
	case err == nil:
		toPage(w)
	case !errors.As(err, &ge):
		p.log.Error("portal: login", "err", err)
		pageguard.WriteError(w, http.StatusInternalServerError, "", err.Error())
	case ge.Status == http.StatusForbidden:
		pageguard.WriteError(w, ge.Status, ge.Code, ge.Msg)
	case ge.Status == http.StatusUnauthorized:
		p.renderLogin(w, r, ge.Status, "Wrong secret.")
	case ge.Status == http.StatusTooManyRequests:
		p.renderLogin(w, r, ge.Status, "Too many wrong secrets: try again in {0} s.", w.Header().Get("Retry-After"))
	default:
		p.renderLogin(w, r, ge.Status, "The form could not be read: {0}", ge.Msg)
	}
}

// postLogout ends the session; the page then shows the login form.
func (p *Portal) postLogout(w http.ResponseWriter, r *http.Request) {
	p.guard.Logout(w, r)
	w.WriteHeader(http.StatusNoContent)
}

// toPage sends the browser to the page. The Location is relative, resolved by the
// browser against the URL it asked for, so that a portal mounted under a prefix
// (http.StripPrefix) stays under it; http.Redirect would resolve it against the
// stripped path.
func toPage(w http.ResponseWriter) {
	w.Header().Set("Location", "./")
	w.WriteHeader(http.StatusSeeOther)
}
