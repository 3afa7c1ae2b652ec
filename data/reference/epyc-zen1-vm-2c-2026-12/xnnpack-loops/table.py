import re,sys,glob
exec(open('loops.py').read().split("args=[a for a")[0])
def main_loop(path,fn):
    body=insns(funcs(path)[fn])
    for a,b in loops(body):
        ins=[s for s in body[a:b+1] if not s.endswith(':')]
        if any(x.split()[0]=='ret' for x in ins): continue
        return ins
def cat(ins):
    c=dict(fma=0,mul=0,addsub=0,div=0,rcp=0,minmax_cmp=0,logic_blend=0,intop=0,gather_perm=0,lane=0,regmov=0,bcast=0,ld_in=0,ld_const=0,ld_stack=0,store=0,scalar=0)
    for s in ins:
        op=s.split()[0]; ops=s[len(op):].strip()
        parts=re.split(r',\s*(?![^()]*\))',ops)
        srcs,dst=parts[:-1],parts[-1]
        if not isvec(s): c['scalar']+=1; continue
        for p in srcs:
            if '(' in p and not op.startswith('vpgather'):
                if 'rip' in p: c['ld_const']+=1
                elif 'rsp' in p or 'rbp' in p: c['ld_stack']+=1
                else: c['ld_in']+=1
        if '(' in dst: c['store']+=1; continue
        if re.match(r'vf(n?)m(add|sub)',op): c['fma']+=1
        elif op.startswith('vmul'): c['mul']+=1
        elif op in('vaddps','vsubps'): c['addsub']+=1
        elif op.startswith('vdiv'): c['div']+=1
        elif op=='vrcpps': c['rcp']+=1
        elif op.startswith(('vmin','vmax','vcmp','vpcmp')): c['minmax_cmp']+=1
        elif op.startswith(('vand','vor','vxor','vpxor','vblend','vpand','vpor')): c['logic_blend']+=1
        elif op.startswith(('vpsl','vpsr','vpadd','vpsub')): c['intop']+=1
        elif op.startswith(('vpgather','vperm')): c['gather_perm']+=1
        elif op.startswith(('vextract','vinsert')): c['lane']+=1
        elif op.startswith('vbroadcast'): c['bcast']+=1
        elif op.startswith('vmov'):
            if not any('(' in p for p in srcs): c['regmov']+=1
        else: c.setdefault('other:'+op,0); c['other:'+op]+=1
    return c
for path,fn,unroll in [l.split() for l in open(sys.argv[1]) if l.strip() and not l.startswith('#')]:
    ins=main_loop(path,fn); u=int(unroll)
    nv=sum(isvec(s) for s in ins)
    c=cat(ins)
    print(f"{fn} | u{u} | {len(ins)} | {nv} | per8 {len(ins)*8/u:.1f}/{nv*8/u:.1f} | div {c['div']} | " + ' '.join(f"{k}={v}" for k,v in c.items() if v))
