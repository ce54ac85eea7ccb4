/*! Profile Builder tracker | profile-builder-tracker 1.0.0 */
/*
 * Install with one tag:
 *   <script async src="https://collector.example/t.js" data-write-key="KEY"></script>
 *
 * Calls made before the script has loaded are kept when the page defines a
 * queue first:
 *   <script>window.profile = window.profile || [];
 *     profile.push(['track', 'Signup Started', {plan: 'pro'}]);</script>
 *
 * Options (data-* attributes on the script tag):
 *   data-write-key           the site's write key (required)
 *   data-host                collector origin (default: the origin t.js came from)
 *   data-honor-dnt           "true": send nothing when Do-Not-Track is on
 *   data-honor-gpc           "true": send nothing under Global Privacy Control
 *                            (default: same as data-honor-dnt)
 *   data-require-consent     "true": send nothing before
 *                            profile.consent({analytics: true})
 *   data-id-lifetime-days    anonymous id lifetime (default 365)
 *   data-flush-interval-ms   batch timer (default 2000)
 *   data-batch-size          events per batch (default 10)
 *   data-session-timeout-min session inactivity timeout (default 30)
 *   data-auto-page           "false": no automatic page views
 *   data-debug               "true": log the tracker's own errors with console.warn
 * Elements inside [data-no-track] are ignored by click and form capture.
 *
 * The script never throws into the page: every entry point is wrapped.
 */
(function (w, d) {
  'use strict';
  var VERSION = '1.0.0';
  var LIB = 'profile-builder-tracker';
  var P = '_pb_';
  var AID = P + 'aid', UID = P + 'uid', SESS = P + 'sess', OPT = P + 'optout', CONSENT = P + 'consent';
  var MAX_QUEUE = 200;               // events kept in memory and storage
  var MAX_AGE = 7 * 864e5;           // undelivered events older than this are dropped
  var MAX_BODY = 50000;              // bytes per request (keepalive/beacon limit is 64 KiB)
  var MARKS = [25, 50, 75, 100];
  var nav = navigator;
  var cfg = { debug: false };
  var st = { q: [], inflight: null, fails: 0, timer: 0, pv: null };

  function warn(e) {
    try { if (cfg.debug && w.console) console.warn('[profile]', e); } catch (x) { /* ignore */ }
  }
  // Wraps fn so that no exception ever escapes into the page.
  function safe(fn) {
    return function () {
      try { return fn.apply(this, arguments); } catch (e) { warn(e); }
    };
  }
  function now() { return w.performance && performance.now ? performance.now() : Date.now(); }
  function iso() { return new Date().toISOString(); }
  function obj(x) { return x && typeof x === 'object' && !Array.isArray(x) ? x : {}; }
  function later(fn, ms) { return setTimeout(safe(fn), ms); }

  function uuid() {
    try { if (w.crypto && crypto.randomUUID) return crypto.randomUUID(); } catch (e) { /* insecure context */ }
    var b = new Uint8Array(16), h = '', i;
    try { crypto.getRandomValues(b); } catch (e) { for (i = 0; i < 16; i++) b[i] = Math.random() * 256 | 0; }
    b[6] = b[6] & 15 | 64;
    b[8] = b[8] & 63 | 128;
    for (i = 0; i < 16; i++) {
      h += (b[i] + 256).toString(16).slice(1);
      if (i === 3 || i === 5 || i === 7 || i === 9) h += '-';
    }
    return h;
  }

  // ---- storage: localStorage with an in-memory fallback, plus first-party cookies
  var ls = null, mem = {};
  try { ls = w.localStorage; ls.setItem(P + 't', '1'); ls.removeItem(P + 't'); } catch (e) { ls = null; }
  function sget(k) {
    try { if (ls) return ls.getItem(k); } catch (e) { /* fall through */ }
    return k in mem ? mem[k] : null;
  }
  function sset(k, v) {
    mem[k] = v;
    try { if (ls) ls.setItem(k, v); } catch (e) { /* quota or blocked */ }
  }
  function sdel(k) {
    delete mem[k];
    try { if (ls) ls.removeItem(k); } catch (e) { /* blocked */ }
  }
  function jget(k) { try { return JSON.parse(sget(k)); } catch (e) { return null; } }
  function jset(k, v) { sset(k, JSON.stringify(v)); }
  function cget(k) {
    try {
      var m = d.cookie.match(new RegExp('(?:^|; )' + k + '=([^;]*)'));
      return m ? decodeURIComponent(m[1]) : null;
    } catch (e) { return null; }
  }
  function cset(k, v, days) {
    try {
      d.cookie = k + '=' + encodeURIComponent(v) + '; Max-Age=' + Math.round(days * 86400) +
        '; Path=/; SameSite=Lax' + (location.protocol === 'https:' ? '; Secure' : '');
    } catch (e) { /* sandboxed */ }
  }

  // ---- configuration from the script tag
  function findScript() {
    var s = d.currentScript, all, i;
    if (s && s.hasAttribute('data-write-key')) return s;
    all = d.querySelectorAll('script[data-write-key]');
    for (i = all.length - 1; i >= 0; i--) if (/\/t(\.min)?\.js(\?|#|$)/.test(all[i].src)) return all[i];
    return all[all.length - 1] || s;
  }
  function readConfig() {
    var s = findScript();
    function a(n) { return s ? s.getAttribute('data-' + n) : null; }
    function num(n, def) { var v = parseFloat(a(n)); return v > 0 ? v : def; }
    var host = a('host'), dnt = a('honor-dnt') === 'true', gpc = a('honor-gpc');
    if (!host) {
      try { host = new URL(s && s.src ? s.src : location.href, location.href).origin; } catch (e) { host = ''; }
    }
    cfg = {
      writeKey: a('write-key') || '',
      host: String(host).replace(/\/+$/, ''),
      honorDnt: dnt,
      honorGpc: gpc == null ? dnt : gpc === 'true',
      requireConsent: a('require-consent') === 'true',
      idDays: num('id-lifetime-days', 365),
      flushMs: num('flush-interval-ms', 2000),
      batchSize: Math.max(1, Math.floor(num('batch-size', 10))),
      sessionMs: num('session-timeout-min', 30) * 60000,
      autoPage: a('auto-page') !== 'false',
      debug: a('debug') === 'true'
    };
  }

  // ---- privacy: DNT / GPC, opt-out, consent
  function dnt() {
    var v = nav.doNotTrack || w.doNotTrack || nav.msDoNotTrack;
    return v === '1' || v === 1 || v === 'yes';
  }
  function gpc() { return nav.globalPrivacyControl === true || nav.globalPrivacyControl === '1'; }
  function optedOut() { return sget(OPT) === '1' || cget(OPT) === '1'; }
  function consentState() { var c = jget(CONSENT); return c && typeof c === 'object' ? c : null; }
  function allowed() {
    if (!cfg.writeKey || !cfg.host) return false;
    if ((cfg.honorDnt && dnt()) || (cfg.honorGpc && gpc()) || optedOut()) return false;
    var c = consentState();
    if (c && c.analytics === false) return false;
    return !cfg.requireConsent || !!(c && c.analytics === true);
  }
  // Forgets everything not yet delivered (opt-out, consent withdrawn).
  function dropAll() {
    st.q = [];
    var i, k;
    try {
      for (i = ls ? ls.length - 1 : -1; i >= 0; i--) {
        k = ls.key(i);
        if (k && k.indexOf(P + 'q_') === 0) ls.removeItem(k);
      }
    } catch (e) { /* blocked */ }
    for (k in mem) if (k.indexOf(P + 'q_') === 0) delete mem[k];
  }

  // ---- identity and session (created lazily: nothing is stored before tracking is allowed)
  function anonId() {
    var id = st.aid || cget(AID), o;
    if (!id) { o = jget(AID); if (o && o.exp > Date.now()) id = o.id; }
    if (typeof id !== 'string' || !/^[\w-]{8,64}$/.test(id)) id = uuid();
    if (id !== st.aid) {   // (re)write once per page load: a rolling lifetime
      st.aid = id;
      cset(AID, id, cfg.idDays);
      jset(AID, { id: id, exp: Date.now() + cfg.idDays * 864e5 });
    }
    return id;
  }
  function session() {
    var t = Date.now(), s = jget(SESS) || st.sess, start = false;
    if (!s || !s.id || !(t - s.last <= cfg.sessionMs)) { s = { id: uuid() }; start = true; }
    s.last = t;
    st.sess = s;
    jset(SESS, s);
    return { id: s.id, start: start };
  }
  function campaign(search) {
    var p, c = {}, any = false;
    try { p = new URLSearchParams(search || ''); } catch (e) { return null; }
    [['source', 'utm_source'], ['medium', 'utm_medium'], ['name', 'utm_campaign'],
      ['term', 'utm_term'], ['content', 'utm_content']].forEach(function (m) {
      var v = p.get(m[1]);
      if (v) { c[m[0]] = v.slice(0, 200); any = true; }
    });
    return any ? c : null;
  }

  // ---- events
  function snapshot(referrer) {
    return {
      url: location.href, path: location.pathname, title: d.title,
      referrer: referrer || '', search: location.search
    };
  }
  // passive: a report about the current page view (dwell time) that belongs to that
  // page view's session and is not itself activity that extends or starts a session.
  function build(type, fields, passive) {
    var s = passive && st.pv.sid ? { id: st.pv.sid } : session(), pg = st.pv.page, c = consentState(), camp, tz, uid;
    var ctx = {
      library: { name: LIB, version: VERSION },
      page: pg,
      userAgent: nav.userAgent,
      locale: nav.language || '',
      sessionId: s.id
    };
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone; if (tz) ctx.timezone = tz; } catch (e) { /* old */ }
    try { ctx.screen = { width: screen.width, height: screen.height }; } catch (e) { /* none */ }
    if (s.start) {
      ctx.sessionStart = true;
      if (pg.referrer) ctx.referrer = { url: pg.referrer };
    }
    if (s.start || type === 'page') { camp = campaign(pg.search); if (camp) ctx.campaign = camp; }
    if (c) ctx.consent = c;
    var ev = {
      type: type, messageId: uuid(), anonymousId: anonId(),
      timestamp: iso(), context: ctx
    };
    uid = st.uid || sget(UID);
    if (uid) ev.userId = uid;
    for (var k in fields) ev[k] = fields[k];
    return ev;
  }
  function enqueue(type, fields, passive) {
    if (!allowed()) return;
    var ev;
    try { ev = JSON.parse(JSON.stringify(build(type, fields, passive))); } catch (e) { warn(e); return; } // cyclic props
    st.q.push(ev);
    if (st.q.length > MAX_QUEUE) st.q.splice(0, st.q.length - MAX_QUEUE);
    persist();
    if (st.q.length >= cfg.batchSize) flush();
    else if (!st.timer) st.timer = later(flush, cfg.flushMs);
  }

  // ---- delivery
  // Undelivered events (queued or in flight) live under a key of their own per
  // page instance, so tabs never overwrite each other; a later page load claims them.
  function persist() {
    var all = (st.inflight || []).concat(st.q);
    if (all.length) jset(st.qKey, all); else sdel(st.qKey);
  }
  function claim() {
    var pre = P + 'q_' + cfg.writeKey + '_', old = [], i, k, arr, cut = Date.now() - MAX_AGE;
    try {
      for (i = ls ? ls.length - 1 : -1; i >= 0; i--) {
        k = ls.key(i);
        if (k && k.indexOf(pre) === 0 && k !== st.qKey) {
          arr = jget(k);
          ls.removeItem(k);
          if (Array.isArray(arr)) old = old.concat(arr);
        }
      }
    } catch (e) { warn(e); }
    old = old.filter(function (e) { return e && e.messageId && Date.parse(e.timestamp) > cut; });
    st.q = old.slice(-MAX_QUEUE);
    persist();
    if (st.q.length) st.timer = later(flush, 0);
  }
  function take() {
    var n = 0, size = 0;
    while (n < st.q.length && n < 100) {
      size += JSON.stringify(st.q[n]).length;
      if (n && size > MAX_BODY) break;
      n++;
    }
    return st.q.splice(0, n);
  }
  function body(batch) {
    return JSON.stringify({ batch: batch, sentAt: iso(), writeKey: cfg.writeKey });
  }
  function schedule(ms) {
    clearTimeout(st.timer);
    st.timer = later(flush, ms);
  }
  // Sends one batch with fetch (text/plain: a CORS "simple" request, no preflight).
  function flush() {
    clearTimeout(st.timer);
    st.timer = 0;
    if (st.inflight || !st.q.length || !allowed()) return;
    if (nav.onLine === false) return;            // the 'online' event resumes
    if (!w.fetch) { beacon(); return; }
    var batch = take(), b = body(batch), p, size = b.length * 3;
    st.inflight = batch;
    try {
      if (size >= 60000) size = new Blob([b]).size;   // UTF-8 bytes
      p = fetch(cfg.host + '/v1/batch', {
        method: 'POST', body: b, keepalive: size < 60000, credentials: 'omit', mode: 'cors'
      });
    } catch (e) { p = Promise.reject(e); }
    p.then(function (r) {
      // 2xx: stored. Other 4xx (bad key, forbidden origin, malformed): retrying cannot help.
      var s = r.status;
      done(r.ok || (s >= 400 && s < 500 && s !== 408 && s !== 429));
    }, function () { done(false); }).catch(warn);
  }
  function done(ok) {
    var batch = st.inflight || [];
    st.inflight = null;
    if (ok) st.fails = 0;
    else {
      st.q = batch.concat(st.q).slice(-MAX_QUEUE);
      st.fails++;
    }
    if (!allowed()) st.q = [];                  // opted out or consent withdrawn meanwhile
    persist();
    if (!st.q.length) return;
    // exponential backoff with jitter: 1 s, 2 s, 4 s ... 60 s
    schedule(ok ? 0 : Math.min(60000, 1000 * Math.pow(2, st.fails - 1)) * (1 + Math.random() / 4));
  }
  // On page hide: hand everything queued to sendBeacon, which outlives the page.
  // A beacon reports nothing back, so while deliveries are failing (collector down,
  // offline) the events also stay stored for the next page load to retry; the
  // collector ignores a messageId it already has.
  function beacon() {
    if (!allowed()) return;
    var keep = st.fails > 0 || nav.onLine === false, sent = [], batch, ok;
    while (st.q.length) {
      batch = take();
      ok = false;
      try { ok = !!(nav.sendBeacon && nav.sendBeacon(cfg.host + '/v1/batch', body(batch))); } catch (e) { warn(e); }
      if (!ok) { st.q = batch.concat(st.q); break; }
      sent = sent.concat(batch);
    }
    if (keep) st.q = sent.concat(st.q);
    persist();
    if (!keep && st.q.length && w.fetch) flush();  // keepalive fetch for what the beacon refused
  }

  // ---- page views, dwell time, scroll depth
  function startPage(referrer) {
    if (st.pv) reportDwell('navigation');
    st.pv = {
      id: uuid(), page: snapshot(referrer), sent: false, vis: 0, total: 0, depth: 0, marks: {},
      since: d.visibilityState === 'hidden' ? null : now()
    };
  }
  function sendPage(name, props) {
    var pv = st.pv;
    if (!allowed()) return;
    if (pv.sent) startPage(pv.page.url);
    pv = st.pv;
    pv.page = snapshot(pv.page.referrer);        // picks up a title set after navigation
    var f = { messageId: pv.id, properties: Object.assign({}, pv.page, obj(props)) };
    if (name) f.name = String(name).slice(0, 200);
    enqueue('page', f);
    pv.sent = true;
    pv.sid = st.sess && st.sess.id;
  }
  function accrue() {
    var pv = st.pv;
    if (pv.since != null) pv.vis += now() - pv.since;
    pv.since = d.visibilityState === 'hidden' ? null : now();
  }
  function reportDwell(reason) {
    var pv = st.pv, ms;
    accrue();
    ms = Math.round(pv.vis);
    if (!pv.sent || ms < 1) return;
    pv.vis = 0;
    pv.total += ms;
    enqueue('track', {
      event: 'Page Dwell',
      properties: {
        dwell_ms: ms, total_dwell_ms: pv.total, max_scroll_depth: pv.depth,
        page_view_id: pv.id, reason: reason, url: pv.page.url, path: pv.page.path
      }
    }, true);
  }
  function measureScroll() {
    st.scrollTimer = 0;
    var pv = st.pv, de = d.documentElement, b = d.body;
    var h = Math.max(de.scrollHeight, b ? b.scrollHeight : 0), vh = w.innerHeight || de.clientHeight;
    var y = w.pageYOffset || de.scrollTop || 0, pct;
    if (!h || h <= vh) return;
    pct = y + vh >= h - 2 ? 100 : Math.floor((y + vh) / h * 100);
    if (pct > pv.depth) pv.depth = pct;
    MARKS.forEach(function (m) {
      if (pct >= m && !pv.marks[m]) {
        pv.marks[m] = 1;
        enqueue('track', {
          event: 'Scroll Depth',
          properties: { depth: m, page_view_id: pv.sent ? pv.id : undefined, path: pv.page.path }
        });
      }
    });
  }
  function onScroll() { if (!st.scrollTimer) st.scrollTimer = later(measureScroll, 150); }
  function routeKey() {
    var l = location;
    return l.pathname + l.search + (/^#[!/]/.test(l.hash) ? l.hash : '');
  }
  // SPA navigation: history.pushState / replaceState / popstate / hash routes.
  function onRoute() {
    var k = routeKey();
    if (k === st.route) return;
    var from = st.pv.page.url;
    st.route = k;
    startPage(from);
    clearTimeout(st.routeTimer);
    if (cfg.autoPage) st.routeTimer = later(function () { sendPage(); }, 50);
  }
  function onVisibility() {
    if (d.visibilityState === 'hidden') { reportDwell('hidden'); beacon(); }
    else accrue();
  }
  function onPageHide() {
    reportDwell('pagehide');
    st.pv.since = null;                       // the page is going away: stop the clock
    beacon();
  }
  function onPageShow(e) {
    if (!e.persisted) return;                 // restored from the back/forward cache
    st.pv.since = null;
    startPage(d.referrer);
    st.route = routeKey();
    if (cfg.autoPage) sendPage();
  }

  // ---- clicks and forms
  function text(el) {
    return String(el.innerText || el.textContent || el.getAttribute('aria-label') || '')
      .replace(/\s+/g, ' ').trim().slice(0, 100);
  }
  function outbound(href) {
    try {
      var u = new URL(href, location.href);
      return /^https?:$/.test(u.protocol) && u.hostname !== location.hostname;
    } catch (e) { return false; }
  }
  function onClick(e) {
    var t = e.target, el, a, p;
    if (t && t.nodeType !== 1) t = t.parentElement;
    if (!t || !t.closest || t.closest('[data-no-track]')) return;
    el = t.closest('[data-track]');
    a = t.closest('a[href]');
    if (!el && !a) return;
    p = { text: text(el || a), id: (el || a).getAttribute('id') || undefined };
    if (a) { p.href = a.href; p.outbound = outbound(a.href); p.target = a.target || undefined; }
    if (el) {
      p.track = el.getAttribute('data-track');
      p.tag = el.tagName.toLowerCase();
    }
    enqueue('track', { event: el ? 'Element Clicked' : 'Link Clicked', properties: p });
  }
  function onSubmit(e) {
    var f = e.target, names = [], i, el, n, u, action;
    if (!f || f.tagName !== 'FORM' || f.closest('[data-no-track]')) return;
    for (i = 0; i < f.elements.length; i++) {     // field NAMES only, never values
      el = f.elements[i];
      n = el.getAttribute('name') || el.getAttribute('id');
      if (n && !/^(submit|button|reset|image)$/.test(el.type) && el.tagName !== 'FIELDSET' &&
          names.indexOf(n) < 0) names.push(n);
    }
    try {
      u = new URL(f.getAttribute('action') || '', location.href);
      action = u.origin + u.pathname;
    } catch (x) { action = undefined; }
    enqueue('track', {
      event: 'Form Submitted',
      properties: {
        form_id: f.getAttribute('id') || undefined, form_name: f.getAttribute('name') || undefined,
        track: f.getAttribute('data-track') || undefined,
        action: action, method: (f.getAttribute('method') || 'get').toLowerCase(), fields: names
      }
    });
  }

  // ---- public API
  var api = {
    track: function (name, props) {
      if (typeof name !== 'string' || !name) return;
      enqueue('track', { event: name.slice(0, 200), properties: obj(props) });
    },
    // options.userHash: the HMAC-SHA256 of the user id (or email) the site's server made with its
    // identity secret; it verifies this identify only and is never stored by the collector.
    identify: function (userId, traits, options) {
      if (userId && typeof userId === 'object') { options = traits; traits = userId; userId = null; }
      if (!allowed()) return;
      if (userId != null && userId !== '') { st.uid = String(userId).slice(0, 200); sset(UID, st.uid); }
      var f = { traits: obj(traits) };
      if (options && typeof options.userHash === 'string') f.userHash = options.userHash.slice(0, 128);
      enqueue('identify', f);
    },
    page: function (name, props) {
      if (name && typeof name === 'object') { props = name; name = null; }
      sendPage(name, props);
    },
    optOut: function () {
      sset(OPT, '1');
      cset(OPT, '1', 3650);
      dropAll();
      [AID, UID, SESS].forEach(sdel);
      cset(AID, '', 0);
      st.aid = st.uid = st.sess = null;
    },
    optIn: function () {
      sdel(OPT);
      cset(OPT, '', 0);
      if (allowed() && cfg.autoPage && !st.pv.sent) sendPage();
    },
    consent: function (c) {
      if (!c || typeof c !== 'object') return consentState();
      var was = allowed(), s = consentState() || {}, k;
      for (k in c) if (typeof c[k] === 'boolean' && k.length < 40) s[k] = c[k];
      jset(CONSENT, s);
      if (!allowed()) dropAll();
      else if (!was && cfg.autoPage && !st.pv.sent) sendPage();
      return s;
    },
    reset: function () {
      [AID, UID, SESS].forEach(sdel);
      cset(AID, '', 0);
      st.aid = st.uid = st.sess = null;
    },
    anonymousId: function () { return allowed() ? anonId() : null; },
    flush: function () { flush(); },
    push: function (item) {
      if (item && typeof api[item[0]] === 'function' && item[0] !== 'push') {
        return api[item[0]].apply(api, [].slice.call(item, 1));
      }
    },
    version: VERSION
  };
  Object.keys(api).forEach(function (k) { if (typeof api[k] === 'function') api[k] = safe(api[k]); });

  function init() {
    var pre = w.profile, queued, early = { consent: 1, optOut: 1, optIn: 1, identify: 1, reset: 1 };
    if (pre && pre.__pb) return;                  // loaded twice
    readConfig();
    queued = Array.isArray(pre) ? pre.slice() : [];
    api.__pb = true;
    w.profile = api;
    st.qKey = P + 'q_' + cfg.writeKey + '_' + uuid();
    st.route = routeKey();
    startPage(d.referrer);
    if (allowed()) claim(); else if (optedOut()) dropAll();
    // Settings calls first (consent, opt-out, identify), then the page view, then the rest.
    queued.forEach(function (c) { if (c && early[c[0]]) api.push(c); });
    if (cfg.autoPage && !st.pv.sent) sendPage();
    queued.forEach(function (c) { if (c && !early[c[0]]) api.push(c); });

    ['pushState', 'replaceState'].forEach(safe(function (m) {
      var orig = history[m];
      if (typeof orig !== 'function') return;
      history[m] = function () {
        var r = orig.apply(this, arguments);      // the page's own errors stay the page's
        try { onRoute(); } catch (e) { warn(e); }
        return r;
      };
    }));
    w.addEventListener('popstate', safe(onRoute));
    w.addEventListener('hashchange', safe(onRoute));
    d.addEventListener('click', safe(onClick), true);
    d.addEventListener('submit', safe(onSubmit), true);
    w.addEventListener('scroll', safe(onScroll), { passive: true });
    d.addEventListener('visibilitychange', safe(onVisibility));
    w.addEventListener('pagehide', safe(onPageHide));
    w.addEventListener('pageshow', safe(onPageShow));
    w.addEventListener('online', safe(function () { st.fails = 0; flush(); }));
  }
  safe(init)();
})(window, document);
