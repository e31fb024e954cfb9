#include "dup_up.h"

void dup_up_add_cpu(float* out, const float* x, int t, int h, int w, int cin, int cout, int ft, int fs, int skip) {
  const int factor = ft * fs * fs, repeats = cout * factor / cin;
  const int oh = h * fs, ow = w * fs, ot = t * ft - skip;
  for (int to = 0; to < ot; ++to) {
    const int full = to + skip, ti = full / ft, dt = full % ft;
    for (int y = 0; y < oh; ++y)
      for (int xo = 0; xo < ow; ++xo) {
        float* o = out + (((long long)to * oh + y) * ow + xo) * cout;
        const float* s = x + (((long long)ti * h + y / fs) * w + xo / fs) * cin;
        const int sub = (dt * fs + y % fs) * fs + xo % fs;
        for (int oc = 0; oc < cout; ++oc) o[oc] += s[(oc * factor + sub) / repeats];
      }
  }
}
