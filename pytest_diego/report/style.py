"""report.html's stylesheet, inlined in the page: system fonts, laptop-width layout, CSS-only tabs."""

CSS = """
:root{--fg:#1d2330;--muted:#6b7280;--line:#e3e6ea;--ok:#1a7f37;--bad:#c62828;--bg:#fafbfc}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1280px;margin:0 auto;padding:16px 24px 48px}
body.compare main{max-width:1900px}
header h1{margin:0 0 4px;font-size:24px}
header p{margin:2px 0}
h2{font-size:19px;margin:28px 0 10px;border-bottom:2px solid var(--line);padding-bottom:4px;
 word-break:break-all}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;background:#fff;margin:8px 0 12px;font-size:13px}
th,td{border:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
thead th{background:#f1f3f5}
table.env tbody th{font-weight:500;color:var(--muted);white-space:nowrap}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.ok{color:var(--ok);font-weight:600}
.bad{color:var(--bad);font-weight:600}
.muted{color:var(--muted)}
.badge{display:inline-block;font-size:12px;padding:1px 8px;border-radius:10px;border:1px solid currentColor;
 vertical-align:middle;font-weight:600}
pre.reasons{background:#fff4f4;border:1px solid #f2c4c4;padding:8px 10px;white-space:pre-wrap;font-size:12px}
.scenario{background:#fff;border:1px solid var(--line);border-radius:8px;padding:4px 18px 14px;margin:22px 0}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(0,1fr));gap:16px}
figure.plot{margin:0}
figure.plot .run{font-weight:600;font-size:13px}
figure.plot .sub{font-size:12px;color:var(--muted)}
img.plot{display:block;width:100%;max-width:1210px;height:auto;border:1px solid var(--line);border-radius:4px}
figcaption{font-size:12px;color:var(--muted);margin-top:4px;max-width:1210px}
.no-data{border:1px dashed #c9ced6;border-radius:4px;padding:28px 16px;text-align:center;color:var(--muted);
 background:#fbfbfc}
.tabs>input{position:absolute;opacity:0}
.tabs>label{display:inline-block;padding:2px 12px;margin:4px 4px 6px 0;border:1px solid var(--line);
 border-radius:12px;cursor:pointer;font-size:12px}
.tabs>input:checked+label{background:var(--fg);color:#fff;border-color:var(--fg)}
.tabs>input:focus-visible+label{outline:2px solid #1f77b4}
.tabs>.tab{display:none}
.tabs>input:nth-of-type(1):checked~.tab:nth-of-type(1),
.tabs>input:nth-of-type(2):checked~.tab:nth-of-type(2){display:block}
a{color:#1f5fbf}
.cols3{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:12px}
.route-row{margin:6px 0 14px}
.route-row h3{margin:14px 0 4px}
h3.routes-head{font-size:16px;margin:26px 0 4px;border-top:1px solid var(--line);padding-top:10px}
figure.plot.small figcaption{font-size:11px}
.key{margin-left:10px;white-space:nowrap;color:var(--fg)}
.key i{display:inline-block;width:16px;height:0;margin-right:4px;vertical-align:middle}
table.index ul{margin:0;padding-left:16px}
table.index td{font-size:12px}
ul.not-measured{color:var(--muted)}
"""
