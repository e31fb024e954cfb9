#include "avg_down.h"

void avg_down_add_cpu(float* out, const float* x, int t, int h, int w, int cin, int cout, int ft, int fs) {
  const int factor = ft * fs * fs, group = cin * factor / cout;
  const int pad = (ft - t % ft) % ft, ot = (t + pad) / ft, oh = h / fs, ow = w / fs;
  for (int to = 0; to < ot; ++to)
    for (int y = 0; y < oh; ++y)
      for (int xo = 0; xo < ow; ++xo) {
        float* o = out + (((long long)to * oh + y) * ow + xo) * cout;
        for (int oc = 0; oc < cout; ++oc) {
          float s = 0.f;
          for (int j = 0; j < group; ++j) {
            const int e = oc * group + j, c = e / factor, sub = e % factor;
            const int dt = sub / (fs * fs), dy = sub / fs % fs, dx = sub % fs;
            const int ti = to * ft + dt - pad;  // padded frames are zeros
            if (ti >= 0) s += x[(((long long)ti * h + y * fs + dy) * w + xo * fs + dx) * cin + c];
          }
          o[oc] += s / (float)group;
        }
      }
}
