// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "output/flamegraph.h"
#include "output/folded.h"
#include "util/grow.h"
#include "util/hash.h"
#include "util/units.h"

#define IMAGE_WIDTH   1200
#define X_PAD	      10
#define FRAME_WIDTH   (IMAGE_WIDTH - 2 * X_PAD)
#define FRAME_HEIGHT  16
#define TOP_PAD	      64 /* room for the title and the subtitle */
#define BOTTOM_PAD    10
#define FONT_SIZE     12
#define TEXT_BASELINE 11.5 /* from a frame's top, centring FONT_SIZE text in the frame */
#define CHAR_WIDTH    7	   /* average advance at FONT_SIZE, so labels fit unmeasured */
#define TEXT_PAD      3
#define MIN_LABEL     3	  /* characters; fewer say nothing once ".." is appended */
#define MIN_WIDTH     0.1 /* pixels; narrower frames cannot be seen and only bloat the file */
#define MAX_DEPTH     256 /* bounds the tree, and so the recursion over it */

struct node {
	const char *name; /* points into the caller's stack text, not terminated */
	size_t name_len;
	__s64 total;		/* bytes of every stack through this node */
	struct node **children; /* sorted by name, the order flamegraph.pl draws siblings in */
	size_t child_cnt;
	size_t child_cap;
};

struct graph {
	FILE *out;
	const char *unit;
	__s64 total;
	double scale; /* pixels per byte */
	int height;
};

static int name_cmp(const char *a, size_t a_len, const char *b, size_t b_len)
{
	int cmp = memcmp(a, b, a_len < b_len ? a_len : b_len);

	if (cmp)
		return cmp;
	return (a_len > b_len) - (a_len < b_len);
}

/*
 * Finds or adds the child called name. Children stay sorted so that lookups stay logarithmic
 * even when the input is not sorted, and so that drawing needs no second pass.
 */
static struct node *child_get(struct node *parent, const char *name, size_t len)
{
	size_t lo = 0, hi = parent->child_cnt;
	struct node *child;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct node *cur = parent->children[mid];
		int cmp = name_cmp(name, len, cur->name, cur->name_len);

		if (!cmp)
			return cur;
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (mt_grow(&parent->children, &parent->child_cap, parent->child_cnt,
		    sizeof(*parent->children), 4))
		return NULL;
	child = calloc(1, sizeof(*child));
	if (!child)
		return NULL;
	child->name = name;
	child->name_len = len;
	memmove(&parent->children[lo + 1], &parent->children[lo],
		(parent->child_cnt - lo) * sizeof(*parent->children));
	parent->children[lo] = child;
	parent->child_cnt++;
	return child;
}

/* Saturates rather than wraps, so that absurd inputs still draw sensibly. */
static __s64 add_bytes(__s64 a, __s64 b)
{
	__s64 sum;

	return __builtin_add_overflow(a, b, &sum) ? INT64_MAX : sum;
}

static int tree_add(struct node *root, const char *stack, __s64 bytes, int *max_depth)
{
	struct node *node = root;
	int depth = 0;

	root->total = add_bytes(root->total, bytes);
	while (depth < MAX_DEPTH) {
		size_t len = strcspn(stack, ";");

		node = child_get(node, stack, len);
		if (!node)
			return -ENOMEM;
		node->total = add_bytes(node->total, bytes);
		depth++;
		if (!stack[len])
			break;
		stack += len + 1;
	}
	if (depth > *max_depth)
		*max_depth = depth;
	return 0;
}

static void tree_free(struct node *node)
{
	for (size_t i = 0; i < node->child_cnt; i++) {
		tree_free(node->children[i]);
		free(node->children[i]);
	}
	free(node->children);
}

/*
 * Length of the character at s when XML can carry it: well-formed UTF-8, neither a surrogate nor
 * U+FFFE/U+FFFF, no control character but whitespace. 0 when it cannot, since a single such byte
 * makes the whole document unreadable.
 */
static size_t xml_char_len(const unsigned char *s, size_t n)
{
	static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return s[0] >= 0x20 || s[0] == '\t' || s[0] == '\n' || s[0] == '\r';
	if (s[0] >= 0xf8 || s[0] < 0xc0)
		return 0;
	len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	if (len > n)
		return 0;
	cp = s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe ||
	    cp == 0xffff)
		return 0;
	return len;
}

/*
 * Writes at most max_chars characters of s as XML character data, each unrepresentable byte as
 * U+FFFD. Returns how many characters s has, so max_chars 0 measures without writing.
 */
static size_t put_text(FILE *out, const char *s, size_t len, size_t max_chars)
{
	size_t chars = 0;

	for (size_t i = 0; i < len; chars++) {
		size_t n = xml_char_len((const unsigned char *)s + i, len - i);

		if (chars < max_chars) {
			if (!n)
				fputs("\xef\xbf\xbd", out);
			else if (s[i] == '&')
				fputs("&amp;", out);
			else if (s[i] == '<')
				fputs("&lt;", out);
			else if (s[i] == '>')
				fputs("&gt;", out);
			else if (s[i] == '"')
				fputs("&quot;", out);
			else
				fwrite(s + i, 1, n, out);
		}
		i += n ? n : 1;
	}
	return chars;
}

static void put_str(FILE *out, const char *s)
{
	put_text(out, s, strlen(s), SIZE_MAX);
}

static void put_label(FILE *out, const struct node *node, double x, double y, double width)
{
	size_t fit = width > TEXT_PAD ? (size_t)((width - TEXT_PAD) / CHAR_WIDTH) : 0;
	size_t chars;

	if (fit < MIN_LABEL)
		return;
	chars = put_text(out, node->name, node->name_len, 0);
	fprintf(out, "<text x=\"%.2f\" y=\"%.1f\">", x + TEXT_PAD, y + TEXT_BASELINE);
	put_text(out, node->name, node->name_len, chars <= fit ? fit : fit - 2);
	fputs(chars <= fit ? "</text>" : "..</text>", out);
}

/* Recursion is bounded by the tree's depth, at most MAX_DEPTH + 1. */
static void put_frame(const struct graph *g, const struct node *node, int depth, double x)
{
	double width = node->total * g->scale;
	int y = g->height - BOTTOM_PAD - (depth + 1) * FRAME_HEIGHT;
	uint64_t h = mt_hash_bytes(node->name, node->name_len);

	if (width < MIN_WIDTH)
		return;
	fputs("<g class=\"f\"><title>", g->out);
	put_text(g->out, node->name, node->name_len, SIZE_MAX);
	fprintf(g->out, " (%" PRId64 " ", (int64_t)node->total);
	put_str(g->out, g->unit);
	fprintf(g->out, ", %.2f%%)</title>", 100.0 * node->total / g->total);
	/* flamegraph.pl's warm palette: reds to yellows, never blue enough to look cold */
	fprintf(g->out,
		"<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" rx=\"2\" ry=\"2\" "
		"fill=\"rgb(%u,%u,%u)\"/>",
		x, y, width, FRAME_HEIGHT - 1, (unsigned int)(200 + h % 56),
		(unsigned int)(50 + (h >> 16) % 181), (unsigned int)((h >> 32) % 56));
	put_label(g->out, node, x, y, width);
	fputs("</g>\n", g->out);
	for (size_t i = 0; i < node->child_cnt; i++) {
		put_frame(g, node->children[i], depth + 1, x);
		x += node->children[i]->total * g->scale;
	}
}

/*
 * Click-to-zoom for browsers; static renderers ignore it. Frames skipped as too narrow stay
 * missing when zoomed, as in flamegraph.pl. Containment is tested with a tolerance E, as the
 * coordinates it compares were rounded; half MIN_WIDTH absorbs that yet cannot mistake a
 * neighbour, which is at least MIN_WIDTH wide, for a descendant or an ancestor.
 */
static void put_script(FILE *out)
{
	fprintf(out,
		"<script type=\"text/ecmascript\"><![CDATA[\n"
		"var X = %d, W = %d, CW = %d, PAD = %d, MIN = %d, BASE = %.1f, E = %.2f;\n"
		"var frames = [];\n",
		X_PAD, FRAME_WIDTH, CHAR_WIDTH, TEXT_PAD, MIN_LABEL, TEXT_BASELINE, MIN_WIDTH / 2);
	fputs("function init() {\n"
	      "\tvar gs = document.querySelectorAll(\"g.f\");\n"
	      "\tfor (var i = 0; i < gs.length; i++) {\n"
	      "\t\tvar g = gs[i], r = g.querySelector(\"rect\");\n"
	      "\t\tvar t = g.querySelector(\"title\").textContent;\n"
	      "\t\tg.ox = +r.getAttribute(\"x\");\n"
	      "\t\tg.ow = +r.getAttribute(\"width\");\n"
	      "\t\tg.oy = +r.getAttribute(\"y\");\n"
	      "\t\tg.label = t.substring(0, t.lastIndexOf(\" (\"));\n"
	      "\t\tg.onclick = function () { zoom(this); };\n"
	      "\t\tframes.push(g);\n"
	      "\t}\n"
	      "}\n"
	      "function place(g, x, w) {\n"
	      "\tvar r = g.querySelector(\"rect\"), t = g.querySelector(\"text\");\n"
	      "\tvar n = Math.floor((w - PAD) / CW), s = g.label;\n"
	      "\tr.setAttribute(\"x\", x);\n"
	      "\tr.setAttribute(\"width\", w);\n"
	      "\tif (!t) {\n"
	      "\t\tt = document.createElementNS(\"http://www.w3.org/2000/svg\", \"text\");\n"
	      "\t\tt.setAttribute(\"y\", g.oy + BASE);\n"
	      "\t\tg.appendChild(t);\n"
	      "\t}\n"
	      "\tt.setAttribute(\"x\", x + PAD);\n"
	      "\tt.textContent = n < MIN ? \"\" : s.length <= n ? s : s.slice(0, n - 2) + \"..\";\n"
	      "\tg.style.display = \"\";\n"
	      "}\n"
	      "function zoom(z) {\n"
	      "\tfor (var i = 0; i < frames.length; i++) {\n"
	      "\t\tvar g = frames[i];\n"
	      "\t\tif (g.oy <= z.oy && g.ox > z.ox - E && g.ox + g.ow < z.ox + z.ow + E)\n"
	      "\t\t\tplace(g, X + (g.ox - z.ox) * W / z.ow, g.ow * W / z.ow);\n"
	      "\t\telse if (g.oy > z.oy && g.ox < z.ox + E && g.ox + g.ow > z.ox + z.ow - E)\n"
	      "\t\t\tplace(g, X, W);\n"
	      "\t\telse\n"
	      "\t\t\tg.style.display = \"none\";\n"
	      "\t}\n"
	      "\tdocument.getElementById(\"reset\").style.display = \"\";\n"
	      "}\n"
	      "function unzoom() {\n"
	      "\tfor (var i = 0; i < frames.length; i++)\n"
	      "\t\tplace(frames[i], frames[i].ox, frames[i].ow);\n"
	      "\tdocument.getElementById(\"reset\").style.display = \"none\";\n"
	      "}\n"
	      "]]></script>\n",
	      out);
}

static void put_header(const struct graph *g, const char *title)
{
	char size[32];

	fprintf(g->out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
		"<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" onload=\"init()\" "
		"font-family=\"Verdana, DejaVu Sans, sans-serif\" font-size=\"%d\">\n",
		IMAGE_WIDTH, g->height, IMAGE_WIDTH, g->height, FONT_SIZE);
	fputs("<defs><linearGradient id=\"bg\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">"
	      "<stop offset=\"5%\" stop-color=\"#eeeeee\"/>"
	      "<stop offset=\"95%\" stop-color=\"#eeeeb0\"/></linearGradient></defs>\n"
	      "<style type=\"text/css\">g.f, #reset { cursor: pointer; }</style>\n",
	      g->out);
	put_script(g->out);
	fprintf(g->out,
		"<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"url(#bg)\" "
		"onclick=\"unzoom()\"/>\n"
		"<text id=\"reset\" x=\"%d\" y=\"24\" style=\"display: none\" "
		"onclick=\"unzoom()\">Reset Zoom</text>\n"
		"<text x=\"%d\" y=\"24\" font-size=\"17\" text-anchor=\"middle\">",
		IMAGE_WIDTH, g->height, X_PAD, IMAGE_WIDTH / 2);
	put_str(g->out, title);
	mt_format_bytes(g->total, 0, size, sizeof(size));
	fprintf(g->out,
		"</text>\n<text x=\"%d\" y=\"46\" text-anchor=\"middle\" fill=\"#555555\">"
		"Total: %s (%" PRId64 " ",
		IMAGE_WIDTH / 2, size, (int64_t)g->total);
	put_str(g->out, g->unit);
	fputs(")</text>\n", g->out);
}

int flamegraph__write(FILE *out, const char *title, const char *unit,
		      const struct folded_stack *stacks, size_t cnt)
{
	struct node root = {.name = "all", .name_len = 3};
	struct graph g = {.out = out, .unit = unit};
	int max_depth = 0, err = 0;

	for (size_t i = 0; i < cnt && !err; i++) {
		if (stacks[i].bytes > 0)
			err = tree_add(&root, stacks[i].stack, stacks[i].bytes, &max_depth);
	}
	if (!err) {
		g.total = root.total;
		g.scale = root.total ? (double)FRAME_WIDTH / root.total : 0;
		g.height = TOP_PAD + (max_depth + 1) * FRAME_HEIGHT + BOTTOM_PAD;
		put_header(&g, title);
		put_frame(&g, &root, 0, X_PAD);
		fputs("</svg>\n", out);
		if (fflush(out) || ferror(out))
			err = -EIO;
	}
	tree_free(&root);
	return err;
}
