import csv,glob,statistics as st,collections,sys
base=sys.argv[1] if len(sys.argv)>1 else '/work/runs/sve-ab'
d=collections.defaultdict(lambda: collections.defaultdict(list))
for v in ['head','new']:
    for f in glob.glob(f'{base}/{v}-r*/kernel_bench_*[0-9].csv'):
        for r in csv.DictReader(open(f)):
            if r['kind']=='copy': continue
            k=(r['target'],r['function']+(':'+r['key'] if r['key'] else ''),r['direction'],int(r['bytes_per_call']) if False else int(r['elements']))
            d[k][v].append(float(r['elements_per_s'])/1e9)
print(f"{'target':6} {'function':22} {'dir':8} {'elems':>9} {'head Gel/s (min-max)':>22} {'new Gel/s (min-max)':>22} {'new/head':>8}")
for k in sorted(d):
    h=d[k]['head']; n=d[k]['new']
    if not h or not n: continue
    mh=st.median(h); mn=st.median(n)
    print(f"{k[0]:6} {k[1]:22} {k[2]:8} {k[3]:>9} {mh:8.3f} ({min(h):.3f}-{max(h):.3f}) {mn:8.3f} ({min(n):.3f}-{max(n):.3f}) {mn/mh:8.3f}")
