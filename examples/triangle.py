"""A labelled triangle in pixel space (top-left origin), as the procedural families draw them."""
import matplotlib.pyplot as plt

W, H = 400, 300
fig = plt.figure(figsize=(W / 100, H / 100), dpi=100)
ax = fig.add_axes([0, 0, 1, 1])
ax.set_xlim(0, W)
ax.set_ylim(H, 0)
ax.axis("off")
A, B, C = (60, 250), (340, 250), (140, 60)
ax.fill(*zip(A, B, C, strict=True), facecolor="#dbe9f6", edgecolor="black", lw=2)
for name, (x, y) in zip("ABC", (A, B, C), strict=True):
    ax.plot(x, y, "ko")
    ax.annotate(name, (x, y), textcoords="offset points", xytext=(-12, 6), fontsize=14)
ax.plot([C[0], C[0]], [C[1], A[1]], "r--", lw=1.5)  # the altitude from C
area = abs((B[0] - A[0]) * (C[1] - A[1]) - (C[0] - A[0]) * (B[1] - A[1])) / 2
print(f"area in square pixels: {area:g}")
