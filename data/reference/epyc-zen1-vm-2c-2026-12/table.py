import sys,glob,re,collections,statistics as st
base=sys.argv[1]
d=collections.defaultdict(lambda: collections.defaultdict(list))
for f in sorted(glob.glob(base+'/*-r*.txt')):
    side=f.split('/')[-1].split('-r')[0]
    for line in open(f):
        p=line.split()
        if len(p)>8 and p[0]=='cpu' and not p[3].startswith('copy'):
            key=(p[1],p[2],p[3],p[4],p[5]); d[key][side].append(float(p[6]))
sides=sorted({s for v in d.values() for s in v})
print('target thr function dir elements', ' '.join(f'{s}_med_ms(range)' for s in sides), f'{sides[1]}/{sides[0]}' if len(sides)==2 else '')
for k,v in d.items():
    cells=[f'{st.median(v[s]):.4g}({min(v[s]):.4g}-{max(v[s]):.4g})' for s in sides]
    ratio=f'{st.median(v[sides[1]])/st.median(v[sides[0]]):.3f}' if len(sides)==2 else ''
    print(*k, *cells, ratio)
