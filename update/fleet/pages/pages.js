(function () {
  'use strict';
  var token = document.querySelector('meta[name="upkeep-token"]').content;
  // The page's language and the French of its messages (the keys are the English).
  var msgs = JSON.parse(document.getElementById('upkeep-messages').textContent || '{}') || {};
  function t(msg) {
    var s = Object.prototype.hasOwnProperty.call(msgs, msg) ? msgs[msg] : msg;
    for (var i = 1; i < arguments.length; i++) s = s.split('{' + (i - 1) + '}').join(String(arguments[i]));
    return s;
  }
  var kinds = { 'add-update': t('add update'), propagate: t('propagate'), apply: t('apply') };
  var states = {
    pending: t('pending'), delivered: t('delivered'), staged: t('staged'), installing: t('installing'),
    installed: t('installed'), failed: t('failed'), unreachable: t('unreachable'), cancelled: t('cancelled')
  };
  function $(sel) { return document.querySelector(sel); }
  function say(el, text, bad) {
    el.textContent = text;
    el.className = bad ? 'bad' : 'ok';
  }
  function errorOf(xhrText, status) {
    try { return JSON.parse(xhrText).error || ('HTTP ' + status); } catch (e) { return 'HTTP ' + status; }
  }

  // The report of one operation, kept up to date every second until it ends.
  function showReport(rep) {
    var box = $('#report-box'), table = $('#report'), body = table.querySelector('tbody');
    box.hidden = false;
    table.dataset.op = rep.id;
    table.dataset.ended = rep.ended ? 'true' : 'false';
    $('#report-status').textContent = (kinds[rep.kind] || rep.kind) + ' · ' + rep.update + ' · ' + (rep.ended ? t('ended') : t('running'));
    while (body.firstChild) { body.removeChild(body.firstChild); }
    rep.servers.forEach(function (s) {
      var tr = document.createElement('tr');
      tr.dataset.server = s.name;
      [['name', s.name], ['state', s.state], ['code', s.code], ['reason', s.reason], ['version', s.version]].forEach(function (c) {
        var td = document.createElement('td');
        td.textContent = (c[0] === 'state' ? states[c[1]] : '') || c[1] || '';
        td.dataset.field = c[0];
        if (c[0] === 'state') { td.className = 'state-' + c[1]; }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }
  // A new operation goes at the top of the log.
  function logOp(id, kind, update, ended) {
    var body = $('#ops tbody'), tr = document.createElement('tr'), a = t('just now');
    if (body.querySelector('td[colspan]')) { body.removeChild(body.firstChild); }
    if (id) {
      a = document.createElement('a');
      a.href = '/ui/operations/' + encodeURIComponent(id);
      a.textContent = t('just now');
    }
    [a, kinds[kind] || kind, update, ended ? t('now') : t('running')].forEach(function (v) {
      var td = document.createElement('td');
      if (typeof v === 'string') { td.textContent = v; } else { td.appendChild(v); }
      tr.appendChild(td);
    });
    if (id) { tr.dataset.op = id; }
    body.insertBefore(tr, body.firstChild);
  }
  var watching = null;
  function watch(id) {
    watching = id;
    function tick() {
      if (watching !== id) { return; }
      fetch('/ui/api/operations/' + encodeURIComponent(id), { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
        .then(function (r) { return r.json(); })
        .then(function (rep) {
          if (watching !== id) { return; }
          showReport(rep);
          if (!rep.ended) { setTimeout(tick, 1000); return; }
          var row = document.querySelector('#ops tr[data-op="' + CSS.escape(id) + '"]');
          if (row) { row.lastChild.textContent = t('ended'); }
        }, function () { setTimeout(tick, 1000); });
    }
    tick();
  }
  var table = $('#report');
  if (table.dataset.op && table.dataset.ended === 'false') { watch(table.dataset.op); }

  // Add update: the pack goes as the body, its signature in a header, with the
  // upload's progress shown as it goes.
  var add = $('#add-update');
  add.addEventListener('submit', function (e) {
    e.preventDefault();
    var out = $('#upload-result'), bar = $('#upload-progress');
    var pack = add.elements.pack.files[0], sig = add.elements.sig.files[0];
    sig.arrayBuffer().then(function (buf) {
      var bytes = new Uint8Array(buf), bin = '';
      for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
      var q = new URLSearchParams({ name: add.elements.name.value, file: pack.name });
      var xhr = new XMLHttpRequest();
      xhr.open('POST', '/ui/api/updates?' + q.toString());
      xhr.setRequestHeader('X-Upkeep-Token', token);
      xhr.setRequestHeader('X-Upkeep-Signature', btoa(bin));
      xhr.setRequestHeader('Content-Type', 'application/zip');
      bar.hidden = false;
      bar.value = 0;
      bar.classList.remove('bad');
      xhr.upload.addEventListener('progress', function (ev) {
        if (ev.lengthComputable) { bar.value = Math.round(ev.loaded * 100 / ev.total); }
      });
      xhr.addEventListener('load', function () {
        if (xhr.status === 201) {
          var u = JSON.parse(xhr.responseText);
          bar.value = 100;
          say(out, t('Added {0}: {1} {2} ({3})', u.name, u.module, u.version, u.platform), false);
          var sel = $('#operate').elements.update, opt = document.createElement('option');
          opt.value = opt.textContent = u.name;
          sel.appendChild(opt);
          sel.value = u.name;
          logOp(null, 'add-update', u.name, true);
        } else {
          // The seed: a refused upload shows a red bar, with the reason under it.
          bar.value = 100;
          bar.classList.add('bad');
          say(out, errorOf(xhr.responseText, xhr.status), true);
        }
      });
      xhr.addEventListener('error', function () {
        bar.classList.add('bad');
        say(out, t('upload failed: the master did not answer'), true);
      });
      xhr.send(pack);
    });
  });

  // Propagate or Apply: started by the master, then watched here.
  var op = $('#operate');
  op.addEventListener('submit', function (e) {
    e.preventDefault();
    var out = $('#operate-result'), f = op.elements;
    var req = { kind: e.submitter ? e.submitter.value : 'propagate', update: f.update.value };
    if (req.kind === 'apply' && f.force.checked) { req.force = true; }
    if (f.all.checked) {
      req.all = true;
    } else {
      req.servers = Array.prototype.filter.call(op.querySelectorAll('input[name="server"]'), function (c) { return c.checked; })
        .map(function (c) { return c.value; });
    }
    fetch('/ui/api/operations', {
      method: 'POST', credentials: 'same-origin', body: JSON.stringify(req),
      headers: { 'Content-Type': 'application/json', 'X-Upkeep-Token': token }
    }).then(function (r) {
      return r.text().then(function (txt) {
        if (r.status !== 201) { say(out, errorOf(txt, r.status), true); return; }
        var rep = JSON.parse(txt);
        say(out, t('Started {0} {1}', kinds[rep.kind] || rep.kind, rep.id), false);
        showReport(rep);
        logOp(rep.id, rep.kind, rep.update, false);
        watch(rep.id);
      });
    }, function () { say(out, t('the master did not answer'), true); });
  });

  // Re-key: the next enrolment under the server's name replaces its secret.
  Array.prototype.forEach.call(document.querySelectorAll('button[data-action="rekey"]'), function (b) {
    b.addEventListener('click', function () {
      var out = $('#servers-result'), name = b.dataset.server;
      fetch('/ui/api/servers/' + encodeURIComponent(name) + '/rekey', {
        method: 'POST', credentials: 'same-origin', headers: { 'X-Upkeep-Token': token }
      }).then(function (r) {
        return r.text().then(function (body) {
          if (r.status !== 200) { say(out, errorOf(body, r.status), true); return; }
          say(out, t('The next enrolment of {0} replaces its secret.', name), false);
        });
      }, function () { say(out, t('the master did not answer'), true); });
    });
  });

  $('#logout').addEventListener('click', function () {
    fetch('/ui/logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-Upkeep-Token': token } })
      .then(function () { location.href = '/ui/login'; });
  });
}());
