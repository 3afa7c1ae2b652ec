import re,sys
def funcs(path):
    cur=None; out={}
    for line in open(path):
        m=re.match(r'^([A-Za-z_][\w.]*):\s*$',line)
        if m and not m.group(1).startswith('.'):
            cur=m.group(1); out[cur]=[]; continue
        if cur: out[cur].append(line.rstrip('\n'))
    return out
def insns(lines):
    r=[]
    for l in lines:
        s=l.strip()
        if not s or s.startswith('.') and not re.match(r'^\.L\w+:',s): continue
        r.append(s)
    return r
def loops(body):
    labels={}
    for i,s in enumerate(body):
        m=re.match(r'^(\.L\w+):$',s)
        if m: labels[m.group(1)]=i
    res=[]
    for i,s in enumerate(body):
        m=re.match(r'^(j\w+)\s+(\.L\w+)$',s)
        if m and m.group(2) in labels and labels[m.group(2)]<i:
            res.append((labels[m.group(2)],i))
    return res
def isvec(s):
    return bool(re.search(r'%[xyz]mm',s)) or s.split()[0].startswith('v')
args=[a for a in sys.argv[1:] if a!='-v']; path=args[0]; pat=args[1] if len(args)>1 else ''
for name,lines in funcs(path).items():
    if pat and not name.endswith(pat): continue
    body=insns(lines)
    for a,b in loops(body):
        ins=[s for s in body[a:b+1] if not s.endswith(':')]
        if any(x.split()[0]=='ret' for x in ins): continue
        nv=sum(isvec(s) for s in ins)
        div=sum(s.split()[0].startswith(('vdivps','divps')) for s in ins)
        sq=sum('sqrt' in s.split()[0] for s in ins)
        rcp=sum(s.split()[0] in ('vrcpps','vrsqrtps') for s in ins)
        print(f"{name} loop {body[a]} lines{a}-{b}: total={len(ins)} vector={nv} div={div} sqrt={sq} rcp={rcp}")
        if '-v' in sys.argv:
            for s in body[a:b+1]: print('    ',s)
