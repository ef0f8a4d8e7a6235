"""Console responsiveness with N open alerts (default 9,000): trapline BINARY, headless Chromium over WebDriver.

Usage: python3 benches/console_ui.py target/release/trapline [N]   (needs chromium + chromium-driver)
Prints API timings, the time from the login click until every alert is loaded and counted, the
time a text filter takes, the JS heap, and how long a burst of 1,000 more alerts takes to show.
N + 1,000 must stay within the engine's max_active (10,000), or the burst folds into overflow alerts.
"""
import json, os, re, socket, subprocess, sys, tempfile, time, urllib.request

BIN = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 9000
work = tempfile.mkdtemp()
data = os.path.join(work, "data")
def tl(*args, stdin=None):
    return subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True)
assert tl("user", "add", "op", "--role", "operator", "--data", data, stdin="op-password-1\n").returncode == 0
token = tl("token", "create", "op", "--data", data).stdout.strip()
log = open(os.path.join(work, "log"), "w+")
proc = subprocess.Popen([BIN, "run", "--data", data, "--syslog-udp", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0",
                         "--trap-udp", "127.0.0.1:0", "--http", "127.0.0.1:0"], stderr=log, stdout=log)
def addr(kind):
    for _ in range(200):
        log.seek(0); m = re.search(rf"kind={kind} addr=(\S+)", log.read())
        if m: return m.group(1)
        time.sleep(0.05)
    raise SystemExit("no listener " + kind + open(log.name).read())
udp = addr("syslog-udp"); http = "http://" + addr("http")
def api(path):
    req = urllib.request.Request(http + path, headers={"Authorization": "Bearer " + token})
    t = time.perf_counter(); body = urllib.request.urlopen(req).read(); return json.loads(body), time.perf_counter() - t
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
host, port = udp.rsplit(":", 1)
t0 = time.time()
for i in range(N):
    s.sendto(f"<9>Nov 23 17:00:00 dev{i % 500} app: alert number {i} on port {i % 48}".encode(), (host, int(port)))
    if i % 200 == 0: time.sleep(0.002)
while True:
    page, _ = api("/api/v1/alerts?state=open&limit=1000&compact=true")
    raw = urllib.request.urlopen(urllib.request.Request(http + "/metrics")).read().decode()
    m = re.search(r'trapline_alerts_open\{level="critical"\} (\d+)', raw)
    if m and int(m.group(1)) >= N - 5: break
    if time.time() - t0 > 120: print("only", m and m.group(1)); break
    time.sleep(0.5)
for path in ["/api/v1/alerts?limit=100", "/api/v1/alerts?state=open,acked,snoozed,suppressed&limit=1000&compact=true", "/api/v1/alerts?limit=1000"]:
    times = sorted(api(path)[1] for _ in range(5))
    print(f"GET {path}: median {times[2]*1000:.1f} ms")

# WebDriver
dport = 9515 + os.getpid() % 1000
driver = subprocess.Popen(["chromedriver", f"--port={dport}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1)
wd = f"http://127.0.0.1:{dport}"
def call(method, path, body=None):
    req = urllib.request.Request(wd + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req).read())["value"]
caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--no-first-run", "--disable-sync", "--window-size=1400,1000", f"--user-data-dir={work}/profile"]}}}}
sid = call("POST", "/session", caps)["sessionId"]
S = f"/session/{sid}"
def js(code): return call("POST", S + "/execute/sync", {"script": code, "args": []})
def find(css): return list(call("POST", S + "/element", {"using": "css selector", "value": css}).values())[0]
call("POST", S + "/url", {"url": http + "/login"})
call("POST", S + f"/element/{find('input[name=username]')}/value", {"text": "op"})
call("POST", S + f"/element/{find('input[name=password]')}/value", {"text": "op-password-1"})
t = time.perf_counter()
call("POST", S + f"/element/{find('button[type=submit]')}/click", {})
while js("return (document.querySelector('[data-count=critical] .n')||{}).textContent") != str(N):
    time.sleep(0.02)
    if time.perf_counter() - t > 60: print("page never showed", N); break
print(f"login click → {N} alerts loaded and counted: {(time.perf_counter()-t)*1000:.0f} ms; rows in DOM:", js("return document.querySelectorAll('tr.alert').length"))
# Filter by text: time for the table to show the filtered rows
t = time.perf_counter()
call("POST", S + f"/element/{find('input[name=q]')}/value", {"text": "number 4242"})
while js("return document.querySelectorAll('tr.alert').length") != 1:
    time.sleep(0.01)
print(f"text filter (150 ms debounce included) → 1 row: {(time.perf_counter()-t)*1000:.0f} ms")
print("render of one page with 10k known:", js("""
 const t = performance.now(); document.querySelector('input[name=q]').value=''; document.querySelector('#filters').dispatchEvent(new Event('input'));
 return 'queued'"""))
time.sleep(0.5)
heap = js("return performance.memory ? performance.memory.usedJSHeapSize : null")
print("JS heap used:", heap and f"{heap/1048576:.1f} MiB")
# Live: 1,000 more alerts in a burst; time until counted
t = time.perf_counter()
for i in range(N, N + 1000):  # N + 1000 ≤ max_active (10,000)
    s.sendto(f"<9>Nov 23 17:00:00 dev{i % 500} app: burst alert {i}".encode(), (host, int(port)))
target = None
while True:
    c = js("return Number(document.querySelector('[data-count=critical] .n').textContent)")
    if c >= N + 1000 - 5 or time.perf_counter() - t > 30: break
    time.sleep(0.02)
print(f"burst of 1,000 alerts → shown on the page: {(time.perf_counter()-t)*1000:.0f} ms (count {c})")
call("DELETE", S)
driver.terminate(); proc.terminate(); proc.wait()
