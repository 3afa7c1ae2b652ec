# gemm_table.py DIR: GEMM rows of an alternated A/B (base-rN.txt, new-rN.txt), median of the rounds' medians.
import sys,glob,collections,statistics as st
d=collections.defaultdict(lambda: collections.defaultdict(list))
for f in sorted(glob.glob(sys.argv[1]+'/*-r*.txt')):
    side=f.split('/')[-1].split('-r')[0]
    for line in open(f):
        p=line.split()
        if len(p)>=9 and p[0]=='cpu' and ':' in p[3] and p[4] in ('own','openblas'):
            d[(p[1],p[2],p[3],p[4])][side].append(float(p[5]))
print('target thr shape backend  base_med_ms(range)  new_med_ms(range)  new/base')
for k,v in d.items():
    cells=[f'{st.median(v[s]):.4g}({min(v[s]):.4g}-{max(v[s]):.4g})' for s in ('base','new')]
    print(*k, *cells, f"{st.median(v['new'])/st.median(v['base']):.3f}")
