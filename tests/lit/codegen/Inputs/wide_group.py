# Prints a graph with N sibling linear layers on one activation, summed: after --O one
# grouped_gemm whose per-task tile is too large for a thread's stack.
import sys

n = int(sys.argv[1])
params = "".join(f", %w{i}: const f32[16, 32]" for i in range(n))
print(f"graph @wide(%x: f32[M, 32]{params}) {{")
for i in range(n):
    print(f"  %g{i} = linear(%x, %w{i})")
total = "%g0"
for i in range(1, n):
    print(f"  %s{i} = add({total}, %g{i})")
    total = f"%s{i}"
print(f"  return {total}")
print("}")
