(function () {
  'use strict';
  var token = document.querySelector('meta[name="upkeep-token"]').content;
  var live = document.getElementById('live');
  var flashEl = document.getElementById('flash');

  var states = {
    'up-to-date': ['Up to date', 'ok'], 'update': ['Update available', 'info'],
    'installing': ['Installing', 'warn'], 'maintenance': ['In maintenance', 'warn'],
    'failed': ['Failed', 'bad'], 'ineligible': ['Ineligible', ''],
    'error': ['Check failed', 'bad'], 'unknown': ['Not checked yet', '']
  };
  var running = { install: 'Installing', rollback: 'Rolling back', check: 'Checking', script: 'Running a script' };
  var steps = {
    '': 'Starting', check: 'Checking', download: 'Downloading', extract: 'Extracting',
    hook: 'Running a hook', maintenance: 'Maintenance on', backup: 'Keeping a backup',
    install: 'Swapping in', rollback: 'Rolling back', done: 'Finishing'
  };

  function flash(msg) {
    flashEl.textContent = msg;
    flashEl.hidden = !msg;
  }
  function field(el, name) { return el.querySelector('[data-field="' + name + '"]'); }
  function moduleEl(name) { return document.querySelector('article[data-module="' + CSS.escape(name) + '"]'); }
  function stamp(iso) {
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }
  function setTime(el, iso, none) {
    if (iso) { el.setAttribute('datetime', iso); el.textContent = stamp(iso); } else { el.removeAttribute('datetime'); el.textContent = none; }
  }
  function size(n) {
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
  }
  function bytes(done, total) {
    if (total > 0) return size(done) + ' of ' + size(total) + ' (' + Math.floor(done * 100 / total) + ' %)';
    return done > 0 ? size(done) : '';
  }

  function showProgress(el, kind, step, done, total) {
    el.dataset.kind = kind;
    var badge = field(el, 'state');
    badge.textContent = running[kind] || 'Working';
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
    field(el, 'downloaded').textContent = !m.latest || m.latest === m.installed ? '—' : (m.downloaded ? 'Downloaded' : 'Not downloaded');
    var st = states[m.status] || [m.status, ''];
    var badge = field(el, 'state');
    badge.textContent = st[0];
    badge.className = 'badge ' + st[1];

    var text = '', bad = false, code = '';
    switch (m.status) {
      case 'failed': text = m.reason || m.last_error; bad = true; code = m.code; break;
      case 'error': text = m.last_error || m.reason; bad = true; code = m.code; break;
      case 'ineligible': text = m.reason; code = m.code; break;
      case 'maintenance': text = 'In maintenance: visitors see the maintenance page.'; break;
      default: if (m.diagnostics.problem) text = 'An install will fail: ' + m.diagnostics.problem;
    }
    var reason = field(el, 'reason');
    reason.hidden = !text;
    reason.className = 'reason' + (bad ? ' bad' : '');
    field(el, 'reason-text').textContent = text || '';
    var codeEl = field(el, 'code');
    codeEl.textContent = code || '';
    codeEl.hidden = !code;

    var install = el.querySelector('button[data-action="install"]');
    var newer = m.latest && m.latest !== m.installed;
    install.textContent = newer ? 'Install ' + m.latest : 'Install';
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
    if (rb) { rb.textContent = 'Roll back to ' + to; rb.disabled = !!m.operation; }

    field(el, 'notes-box').hidden = !m.notes;
    field(el, 'notes').textContent = m.notes || '';

    var d = m.diagnostics;
    setTime(field(el, 'last_check'), m.last_check, 'never');
    field(el, 'last_result').textContent = m.last_result || '—';
    field(el, 'last_error').textContent = m.last_error || 'none';
    field(el, 'source').textContent = d.source_reachable == null ? 'unknown (not checked yet)' : (d.source_reachable ? 'reachable' : 'unreachable');
    field(el, 'serial').textContent = d.manifest_serial == null ? '—' : String(d.manifest_serial);
    setTime(field(el, 'expires'), d.manifest_expires, '—');
    field(el, 'problem').textContent = d.problem || 'no problem found';
    field(el, 'backups').textContent = (m.backups || []).length ? m.backups.join(', ') : 'none';

    if (m.operation) {
      showProgress(el, m.operation.kind, m.operation.step, m.operation.done, m.operation.total);
    } else {
      field(el, 'progress').hidden = true;
    }
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
    }).catch(function (e) { flash('Could not read the modules: ' + e.message); });
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
        cell(tr, 'No operation yet.', 'empty').colSpan = 6;
        body.appendChild(tr);
      }
      j.operations.forEach(function (op) {
        var tr = document.createElement('tr');
        tr.dataset.operation = op.id;
        var t = document.createElement('time');
        setTime(t, op.started, '');
        cell(tr, t);
        cell(tr, op.module || 'all');
        cell(tr, op.kind);
        cell(tr, op.from || op.to ? (op.from || '—') + ' → ' + (op.to || '—') : '');
        var b = document.createElement('span');
        b.className = 'badge ' + ({ succeeded: 'ok', failed: 'bad', running: 'warn' }[op.result] || '');
        b.textContent = op.result;
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
    }).catch(function (e) { flash('Could not read the operations: ' + e.message); });
  }

  document.addEventListener('click', function (ev) {
    var b = ev.target.closest('button[data-action]');
    if (!b || b.disabled) return;
    var action = b.dataset.action, req;
    if (action === 'check') {
      req = post('api/check');
    } else {
      var el = b.closest('[data-module]'), name = el.dataset.module;
      if (action === 'rollback' && !window.confirm('Put ' + name + ' back to its previous version?')) return;
      req = post('api/modules/' + encodeURIComponent(name) + '/' + action);
      showProgress(el, action, '', 0, 0);
    }
    b.disabled = true;
    flash('');
    req.then(refreshOperations).catch(function (e) { flash(e.message); refreshModules(); })
      .then(function () { if (action === 'check') b.disabled = false; });
  });

  document.querySelectorAll('time[datetime]').forEach(function (t) { t.textContent = stamp(t.getAttribute('datetime')); });

  var es;
  function connect() {
    es = new EventSource('api/events');
    es.addEventListener('open', function () {
      live.dataset.live = 'on';
      live.textContent = 'live';
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
      if (op.result === 'failed') flash((op.module ? op.module + ': ' : '') + op.kind + ' failed: ' + op.error);
      refreshModules();
      refreshOperations();
    });
    es.addEventListener('error', function () {
      live.dataset.live = 'off';
      live.textContent = 'reconnecting…';
      if (es.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
    });
  }
  connect();
})();
