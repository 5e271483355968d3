(function () {
  'use strict';
  var token = document.querySelector('meta[name="upkeep-token"]').content;
  var live = document.getElementById('live');
  var flashEl = document.getElementById('flash');
  // The page's language and the French of its messages (none for English: the keys
  // are the English).
  var lang = document.documentElement.lang || 'en';
  var msgs = JSON.parse(document.getElementById('upkeep-messages').textContent || '{}') || {};
  function t(msg) {
    var s = Object.prototype.hasOwnProperty.call(msgs, msg) ? msgs[msg] : msg;
    for (var i = 1; i < arguments.length; i++) s = s.split('{' + (i - 1) + '}').join(String(arguments[i]));
    return s;
  }

  var states = {
    'up-to-date': [t('Up to date'), 'ok'], 'update': [t('Update available'), 'info'],
    'installing': [t('Installing'), 'warn'], 'maintenance': [t('In maintenance'), 'warn'],
    'failed': [t('Failed'), 'bad'], 'ineligible': [t('Ineligible'), ''],
    'error': [t('Check failed'), 'bad'], 'unknown': [t('Not checked yet'), '']
  };
  var running = { install: t('Installing'), rollback: t('Rolling back'), check: t('Checking'), script: t('Running a script') };
  var steps = {
    '': t('Starting'), check: t('Checking'), download: t('Downloading'), extract: t('Extracting'),
    hook: t('Running a hook'), maintenance: t('Maintenance on'), backup: t('Keeping a backup'),
    install: t('Swapping in'), rollback: t('Rolling back'), done: t('Finishing'), script: t('Running the script')
  };
  var kinds = {
    check: t('check'), install: t('install'), rollback: t('rollback'), script: t('script'),
    hold: t('hold'), release: t('release'), 'maintenance-off': t('maintenance off')
  };
  var results = { running: t('running'), succeeded: t('succeeded'), failed: t('failed') };
  var holds = { rollback: t('rollback'), operator: t('operator') };
  var days = { mon: t('mon'), tue: t('tue'), wed: t('wed'), thu: t('thu'), fri: t('fri'), sat: t('sat'), sun: t('sun') };

  var dbStates = {
    standard: [t('Standard'), 'ok'], customised: [t('Customised'), 'warn'], empty: [t('Empty'), ''], unknown: [t('Unknown'), '']
  };

  function flash(msg) {
    flashEl.textContent = msg;
    flashEl.hidden = !msg;
  }
  function field(el, name) { return el.querySelector('[data-field="' + name + '"]'); }
  function moduleEl(name) { return document.querySelector('article[data-module="' + CSS.escape(name) + '"]'); }
  function stamp(iso) {
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString(lang);
  }
  function setTime(el, iso, none) {
    if (iso) { el.setAttribute('datetime', iso); el.textContent = stamp(iso); } else { el.removeAttribute('datetime'); el.textContent = none; }
  }
  function size(n) {
    var u = lang === 'fr' ? ['o', 'Kio', 'Mio', 'Gio', 'Tio'] : ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    var s = i ? n.toFixed(1) : String(n);
    return (lang === 'fr' ? s.replace('.', ',') : s) + ' ' + u[i];
  }
  function bytes(done, total) {
    if (total > 0) return t('{0} of {1} ({2} %)', size(done), size(total), Math.floor(done * 100 / total));
    return done > 0 ? size(done) : '';
  }

  function showProgress(el, kind, step, done, total) {
    el.dataset.kind = kind;
    var badge = field(el, 'state');
    badge.textContent = running[kind] || t('Working');
    badge.className = 'badge warn';
    field(el, 'progress').hidden = false;
    field(el, 'step').textContent = steps[step] || step;
    field(el, 'bytes').textContent = bytes(done, total);
    var bar = field(el, 'bar');
    if (total > 0) { bar.max = total; bar.value = done; } else { bar.removeAttribute('value'); }
    el.querySelector('button[data-action="install"]').disabled = true;
  }

  function render(el, m) {
    el.dataset.status = m.status;
    field(el, 'installed').textContent = m.installed || '—';
    field(el, 'latest').textContent = m.latest || '—';
    field(el, 'downloaded').textContent = !m.latest || m.latest === m.installed ? '—' : (m.downloaded ? t('Downloaded') : t('Not downloaded'));
    var st = states[m.status] || [m.status, ''];
    var badge = field(el, 'state');
    badge.textContent = st[0];
    badge.className = 'badge ' + st[1];

    var text = '', bad = false, code = '';
    switch (m.status) {
      case 'failed': text = m.reason || m.last_error; bad = true; code = m.code; break;
      case 'error': text = m.last_error || m.reason; bad = true; code = m.code; break;
      case 'ineligible': text = m.reason; code = m.code; break;
      case 'maintenance': text = t('In maintenance: visitors see the maintenance page.'); break;
      default: if (m.diagnostics.problem) text = t('An install will fail: {0}', m.diagnostics.problem);
    }
    var reason = field(el, 'reason');
    reason.hidden = !text;
    reason.className = 'reason' + (bad ? ' bad' : '');
    field(el, 'reason-text').textContent = text || '';
    var codeEl = field(el, 'code');
    codeEl.textContent = code || '';
    codeEl.hidden = !code;

    field(el, 'foreign').hidden = !m.maintenance_foreign;
    var off = el.querySelector('button[data-action="maintenance-off"]');
    if (m.maintenance_foreign && !off) {
      off = document.createElement('button');
      off.type = 'button';
      off.dataset.action = 'maintenance-off';
      off.textContent = t('Take the maintenance flag down');
      el.querySelector('button[data-action="install"]').parentNode.appendChild(off);
    } else if (!m.maintenance_foreign && off) {
      off.remove();
    }

    var hold = field(el, 'hold');
    hold.hidden = !m.hold;
    el.querySelector('button[data-action="hold"]').hidden = !!m.hold;
    el.querySelector('button[data-action="release"]').hidden = !m.hold;
    field(el, 'hold-reason').textContent = m.hold ? (holds[m.hold.reason] || m.hold.reason) : '';
    setTime(field(el, 'hold-since'), m.hold && m.hold.since, '');

    var install = el.querySelector('button[data-action="install"]');
    var newer = m.latest && m.latest !== m.installed;
    install.textContent = newer ? t('Install {0}', m.latest) : t('Install');
    install.disabled = !!m.operation || m.status === 'up-to-date' || m.status === 'ineligible';

    var to = (m.backups || []).filter(function (b) { return b !== m.installed; })[0];
    var rb = el.querySelector('button[data-action="rollback"]');
    if (to && !rb) {
      rb = document.createElement('button');
      rb.type = 'button';
      rb.dataset.action = 'rollback';
      install.parentNode.appendChild(rb);
    } else if (!to && rb) {
      rb.remove();
      rb = null;
    }
    if (rb) { rb.textContent = t('Roll back to {0}', to); rb.disabled = !!m.operation; }

    field(el, 'notes-box').hidden = !m.notes;
    field(el, 'notes').textContent = m.notes || '';

    var d = m.diagnostics;
    setTime(field(el, 'last_check'), m.last_check, t('never'));
    setTime(field(el, 'next_check'), m.next_check, '—');
    field(el, 'window').textContent = windowText(m.window);
    field(el, 'last_result').textContent = m.last_result || '—';
    field(el, 'last_error').textContent = m.last_error || t('none');
    field(el, 'source').textContent = d.source_reachable == null ? t('unknown (not checked yet)') : (d.source_reachable ? t('reachable') : t('unreachable'));
    field(el, 'serial').textContent = d.manifest_serial == null ? '—' : String(d.manifest_serial);
    setTime(field(el, 'expires'), d.manifest_expires, '—');
    field(el, 'problem').textContent = d.problem || t('no problem found');
    field(el, 'backups').textContent = (m.backups || []).length ? m.backups.join(', ') : t('none');

    if (m.database) renderDB(el, m.database, !!m.operation);

    if (m.operation) {
      showProgress(el, m.operation.kind, m.operation.step, m.operation.done, m.operation.total);
    } else {
      field(el, 'progress').hidden = true;
    }
  }

  function renderDB(el, d, busy) {
    var box = field(el, 'database');
    if (!box) return;
    box.dataset.dbState = d.state;
    var st = dbStates[d.state] || [d.state, ''];
    var badge = field(box, 'db-state');
    badge.textContent = st[0];
    badge.className = 'badge ' + st[1];
    field(box, 'db-applied').textContent = d.applied > 0 ? t('script {0} applied', d.applied) : (d.state !== 'unknown' ? t('no script applied') : '');
    field(box, 'db-error').hidden = !d.error;
    field(box, 'db-error-text').textContent = d.error || '';
    var code = field(box, 'db-code');
    code.textContent = d.code || '';
    code.hidden = !d.code;
    field(box, 'db-manual').hidden = d.state !== 'customised';
    var drift = d.drift || { added: [], removed: [], changed: [] };
    var n = drift.added.length + drift.removed.length + drift.changed.length;
    field(box, 'db-drift-box').hidden = !n;
    field(box, 'db-drift-summary').textContent = t('{0} added, {1} removed, {2} changed', drift.added.length, drift.removed.length, drift.changed.length);
    var list = field(box, 'db-drift');
    list.textContent = '';
    ['added', 'removed', 'changed'].forEach(function (k) {
      drift[k].forEach(function (name) {
        var li = document.createElement('li'), tag = document.createElement('span');
        tag.className = 'tag ' + k;
        tag.textContent = { added: t('added'), removed: t('removed'), changed: t('changed') }[k];
        li.appendChild(tag);
        li.appendChild(document.createTextNode(' ' + name));
        list.appendChild(li);
      });
    });
    field(box, 'db-pending-count').textContent = String(d.pending.length);
    var ol = field(box, 'db-pending');
    ol.textContent = '';
    d.pending.forEach(function (p) {
      var li = document.createElement('li'), b = document.createElement('button');
      li.dataset.script = p.number;
      b.type = 'button';
      b.className = 'link';
      b.dataset.action = 'view-script';
      b.dataset.number = p.number;
      b.textContent = p.name;
      li.appendChild(b);
      if (p.touches && p.touches.length) {
        var tch = document.createElement('span');
        tch.className = 'touches';
        tch.textContent = t('touches {0}', p.touches.join(', '));
        li.appendChild(document.createTextNode(' '));
        li.appendChild(tch);
      }
      ol.appendChild(li);
    });
    var pre = field(box, 'db-script');
    if (pre.dataset.number && !d.pending.some(function (p) { return String(p.number) === pre.dataset.number; })) {
      pre.hidden = true;
      pre.dataset.number = '';
    }
    box.dataset.next = d.pending.length ? d.pending[0].number : '';
    box.dataset.nextName = d.pending.length ? d.pending[0].name : '';
    box.querySelectorAll('button[data-action="apply-next"], button[data-action="mark-applied"]').forEach(function (b) {
      b.disabled = busy || !d.pending.length;
    });
  }

  function viewScript(el, number) {
    var name = el.dataset.module, pre = field(el, 'db-script');
    if (pre.dataset.number === String(number) && !pre.hidden) { pre.hidden = true; return; }
    getJSON('api/modules/' + encodeURIComponent(name) + '/db/scripts/' + number).then(function (s) {
      pre.textContent = s.text;
      pre.dataset.number = String(number);
      pre.hidden = false;
    }).catch(function (e) { flash(e.message); });
  }

  function windowText(w) {
    if (!w) return t('No automatic install');
    if (!w.days.length && !w.hours) return t('Any time');
    return (w.days.length ? w.days.map(function (d) { return days[d] || d; }).join(', ') : t('every day')) + ' · ' + (w.hours || t('all day'));
  }

  // The settings form: what it sends is only what it shows, the server checks it.
  var settingsForm = document.querySelector('form[data-form="settings"]');
  function settingsBody(f) {
    var body = { check_interval: f.elements['check_interval'].value.trim(), source: f.elements['source'].value.trim(), lang: f.elements['lang'].value };
    var mode = f.querySelector('input[name="auto"]:checked');
    mode = mode ? mode.value : 'off';
    if (mode === 'off') body.auto_install = null;
    else if (mode === 'always') body.auto_install = 'always';
    else {
      var days = [];
      f.querySelectorAll('input[name="days"]:checked').forEach(function (c) { days.push(c.value); });
      var hours = f.elements['from'].value || f.elements['to'].value ? f.elements['from'].value + '-' + f.elements['to'].value : '';
      body.auto_install = { days: days, hours: hours };
    }
    return body;
  }
  function showWindowFields(f) {
    var mode = f.querySelector('input[name="auto"]:checked');
    field(f, 'window-fields').hidden = !mode || mode.value !== 'window';
  }
  if (settingsForm) {
    showWindowFields(settingsForm);
    settingsForm.addEventListener('change', function () { showWindowFields(settingsForm); });
    settingsForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var f = settingsForm, err = field(f, 'settings-error'), ok = field(f, 'settings-saved');
      err.hidden = true; ok.hidden = true;
      var body = settingsBody(f);
      post('api/settings', body).then(function () {
        ok.hidden = false;
        // A new page language shows at once (unless the switch chose one).
        if (body.lang && body.lang !== lang) { window.location.reload(); return; }
        refreshModules();
      }).catch(function (e) { err.textContent = e.message; err.hidden = false; });
    });
  }

  function getJSON(url) {
    return fetch(url, { credentials: 'same-origin', cache: 'no-store' }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw new Error(j.error || r.status + ' ' + r.statusText);
        return j;
      });
    });
  }
  function post(url, body) {
    return fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'X-Upkeep-Token': token, 'Content-Type': 'application/json' },
      body: body ? JSON.stringify(body) : ''
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw new Error(j.error || r.status + ' ' + r.statusText);
        return j;
      });
    });
  }

  function refreshModules() {
    return getJSON('api/modules').then(function (j) {
      j.modules.forEach(function (m) {
        var el = moduleEl(m.name);
        if (el) render(el, m);
      });
    }).catch(function (e) { flash(t('Could not read the modules: {0}', e.message)); });
  }

  function cell(tr, text, cls) {
    var td = document.createElement('td');
    if (cls) td.className = cls;
    if (text instanceof Node) td.appendChild(text); else td.textContent = text;
    tr.appendChild(td);
    return td;
  }
  function refreshOperations() {
    return getJSON('api/operations?limit=20').then(function (j) {
      var body = document.getElementById('ops');
      body.textContent = '';
      if (!j.operations.length) {
        var tr = document.createElement('tr');
        cell(tr, t('No operation yet.'), 'empty').colSpan = 6;
        body.appendChild(tr);
      }
      j.operations.forEach(function (op) {
        var tr = document.createElement('tr');
        tr.dataset.operation = op.id;
        var tm = document.createElement('time');
        setTime(tm, op.started, '');
        cell(tr, tm);
        cell(tr, op.module || t('all'));
        cell(tr, kinds[op.kind] || op.kind);
        cell(tr, op.from || op.to ? (op.from || '—') + ' → ' + (op.to || '—') : '');
        var b = document.createElement('span');
        b.className = 'badge ' + ({ succeeded: 'ok', failed: 'bad', running: 'warn' }[op.result] || '');
        b.textContent = results[op.result] || op.result;
        cell(tr, b);
        var err = cell(tr, op.error, 'err');
        if (op.code) {
          var c = document.createElement('code');
          c.textContent = op.code;
          err.appendChild(document.createTextNode(' '));
          err.appendChild(c);
        }
        body.appendChild(tr);
      });
    }).catch(function (e) { flash(t('Could not read the operations: {0}', e.message)); });
  }

  document.addEventListener('click', function (ev) {
    var b = ev.target.closest('button[data-action]');
    if (!b || b.disabled) return;
    var action = b.dataset.action, req;
    if (action === 'save-settings') return; // the form's submit handles it
    if (action === 'view-script') {
      viewScript(b.closest('[data-module]'), b.dataset.number);
      return;
    }
    if (action === 'logout') {
      post('logout').then(function () { window.location.reload(); }).catch(function (e) { flash(e.message); });
      return;
    }
    if (action === 'check') {
      req = post('api/check');
    } else if (action === 'apply-next' || action === 'mark-applied') {
      var mel = b.closest('[data-module]'), box = field(mel, 'database'), mod = mel.dataset.module;
      var next = box.dataset.next, nextName = box.dataset.nextName;
      if (!next) return;
      var q = action === 'apply-next' ? t('Run {0} on {1} now?', nextName, mod) : t('Record {0} as run by hand on {1}?', nextName, mod);
      if (!window.confirm(q)) return;
      req = post('api/modules/' + encodeURIComponent(mod) + '/db/' + action, action === 'mark-applied' ? { number: Number(next) } : null);
      showProgress(mel, 'script', 'script', 0, 0);
      box.querySelectorAll('button[data-action="apply-next"], button[data-action="mark-applied"]').forEach(function (x) { x.disabled = true; });
    } else if (action === 'hold' || action === 'release') {
      var hel = b.closest('[data-module]');
      req = post('api/modules/' + encodeURIComponent(hel.dataset.module) + '/' + action).then(refreshModules)
        .then(function () { b.disabled = false; });
    } else if (action === 'maintenance-off') {
      var fel = b.closest('[data-module]'), fname = fel.dataset.module;
      if (!window.confirm(t('Take down the maintenance flag of {0}? It is renamed to .bak, or kept in the state folder.', fname))) return;
      req = post('api/modules/' + encodeURIComponent(fname) + '/maintenance-off').then(refreshModules);
    } else {
      var el = b.closest('[data-module]'), name = el.dataset.module;
      if (action === 'rollback' && !window.confirm(t('Put {0} back to its previous version?', name))) return;
      req = post('api/modules/' + encodeURIComponent(name) + '/' + action);
      showProgress(el, action, '', 0, 0);
    }
    b.disabled = true;
    flash('');
    req.then(refreshOperations).catch(function (e) { flash(e.message); refreshModules(); })
      .then(function () { if (action === 'check') b.disabled = false; });
  });

  document.querySelectorAll('time[datetime]').forEach(function (el) { el.textContent = stamp(el.getAttribute('datetime')); });

  var es;
  function connect() {
    es = new EventSource('api/events');
    es.addEventListener('open', function () {
      live.dataset.live = 'on';
      live.textContent = t('live');
      // Whatever ended while the stream was down shows now.
      refreshModules();
      refreshOperations();
    });
    es.addEventListener('progress', function (e) {
      var p = JSON.parse(e.data), el = p.module && moduleEl(p.module);
      if (el) showProgress(el, el.dataset.kind || 'install', p.step, p.done, p.total);
    });
    es.addEventListener('operation', function (e) {
      var op = JSON.parse(e.data);
      if (op.result === 'failed') flash((op.module ? op.module + ': ' : '') + t('{0} failed: {1}', kinds[op.kind] || op.kind, op.error));
      refreshModules();
      refreshOperations();
    });
    es.addEventListener('error', function () {
      live.dataset.live = 'off';
      live.textContent = t('reconnecting…');
      if (es.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
    });
  }
  connect();
})();
