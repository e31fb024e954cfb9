// The one pattern every model family's JS object follows: a loaded engine with an async run on a
// libuv worker, abort, free and info. A family's binding file derives from ModelObject<Derived,
// Engine> (CRTP, as Napi::ObjectWrap wants), adds its own methods and a Job type for run_async().
//
// What the template owns, so no family re-implements it:
// - the engine (std::unique_ptr<Engine>), the abort flag the engine polls, busy / free-pending state;
// - the FREED / BUSY errors (ready());
// - V8's view of the memory: wrap() reports Engine::resident_bytes() to V8 with
//   napi_adjust_external_memory, and every way the engine goes (free(), the end of the run that a
//   free() during it deferred, garbage collection of a never-freed object) takes the same bytes
//   back once, so the GC sees native weights it would otherwise not know are held by small objects;
// - run_async(): Job::run(engine, abort, emit) on a worker; emit(int) streams ints (tokens) to the
//   JS callback through a thread-safe function, whose finalizer settles the promise, so the callback
//   has seen every value before the promise resolves.
//
// Engine needs: set_abort_flag(const std::atomic<bool>*), size_t resident_bytes() const, and
// whatever the family's methods call. Derived needs: static void describe(Napi::Env, Napi::Object&,
// const Engine&) for info(), and static Napi::FunctionReference& ctor(Napi::Env), its slot of this environment's
// AddonData (addon_data.h; never a static reference: the module serves several environments), set by its Init().
#pragma once
#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "addon_data.h"
#include "napi_common.h"

namespace cosmos::binding {

// Sends one int to the run's JS callback (blocking while the queue is full); no-op without one.
using Emit = std::function<void(int)>;

template <class Derived, class Engine>
class ModelObject : public Napi::ObjectWrap<Derived> {
 public:
  using Method = Napi::Value (Derived::*)(const Napi::CallbackInfo&);

  explicit ModelObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Derived>(info), env_(info.Env()) {}
  // Garbage collected without free(): the engine goes now, and V8's count with it.
  ~ModelObject() override { release(); }

  std::unique_ptr<Engine> engine;
  std::atomic<bool> abort_flag{false};
  bool busy = false;

  // A new JS object of the family's class owning `e`; its resident bytes are reported to V8.
  static Napi::Object wrap(Napi::Env env, std::unique_ptr<Engine> e) {
    Napi::Object obj = Derived::ctor(env).New({});
    Derived* self = Derived::Unwrap(obj);
    self->reported_ = (int64_t)e->resident_bytes();
    self->engine = std::move(e);
    if (self->reported_ > 0) Napi::MemoryManagement::AdjustExternalMemory(env, self->reported_);
    return obj;
  }

  // abort(), free(), info(): every family's class lists these with its own methods.
  static std::vector<Napi::ClassPropertyDescriptor<Derived>> base_methods() {
    return {Napi::ObjectWrap<Derived>::InstanceMethod("abort", static_cast<Method>(&ModelObject::Abort)),
            Napi::ObjectWrap<Derived>::InstanceMethod("free", static_cast<Method>(&ModelObject::Free)),
            Napi::ObjectWrap<Derived>::InstanceMethod("info", static_cast<Method>(&ModelObject::Info))};
  }

  // The engine, or a FREED / BUSY error naming `what` (the family's object: "model", "vision tower").
  Engine& ready(Napi::Env env, const char* what) {
    if (!engine) throw make_error(env, "FREED", std::string("this ") + what + " was freed");
    if (busy)
      throw make_error(env, "BUSY",
                       std::string("a run is in progress on this ") + what + "; await it or abort() first");
    return *engine;
  }

  Napi::Value Abort(const Napi::CallbackInfo& info) {
    abort_flag = true;
    return info.Env().Undefined();
  }

  // free(): releases the engine now; during a run, aborts it and releases when it ends.
  Napi::Value Free(const Napi::CallbackInfo& info) {
    if (busy) {
      abort_flag = true;
      free_pending_ = true;
    } else {
      release();
    }
    return info.Env().Undefined();
  }

  // { freed, busy, externalBytes, ...what Derived::describe adds while loaded }
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("freed", Napi::Boolean::New(env, !engine));
    o.Set("busy", Napi::Boolean::New(env, busy));
    o.Set("externalBytes", Napi::Number::New(env, (double)reported_));
    if (engine) Derived::describe(env, o, *engine);
    return o;
  }

  // Runs job->run(engine, abort_flag, emit) on a libuv worker; the promise resolves with
  // job->result(env) or rejects with the typed error of what run threw. `on_value` (a function or
  // undefined) receives every emitted int before the promise settles; if it throws, the run is
  // aborted and the promise rejects with code ON_VALUE_ERROR_CODE.
  template <class Job>
  Napi::Promise run_async(Napi::Env env, Napi::Object self, const char* name, std::unique_ptr<Job> job,
                          Napi::Value on_value) {
    busy = true;
    abort_flag = false;
    auto* w = new RunWorker<Job>(env, static_cast<Derived*>(this), self, name, std::move(job), on_value);
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }

 private:
  Napi::Env env_;
  int64_t reported_ = 0;
  bool free_pending_ = false;

  void release() {
    engine.reset();
    if (reported_ > 0) Napi::MemoryManagement::AdjustExternalMemory(env_, -reported_);
    reported_ = 0;
  }

  // Called on the JS thread when a run has ended (before its promise settles).
  void end_run() {
    busy = false;
    if (free_pending_) {
      free_pending_ = false;
      release();
    }
  }

  template <class Job>
  class RunWorker : public Napi::AsyncWorker {
   public:
    RunWorker(Napi::Env env, Derived* owner, Napi::Object self, const char* name, std::unique_ptr<Job> job,
              Napi::Value on_value)
        : Napi::AsyncWorker(env, name),
          owner_(owner),
          job_(std::move(job)),
          deferred_(Napi::Promise::Deferred::New(env)) {
      // The promise settles from the TSFN's finalizer, which runs after OnOK: Settle() deletes us.
      SuppressDestruct();
      self_ = Napi::Persistent(self);  // keeps the JS object (and so the engine) alive while we run
      Napi::Function cb = on_value.IsFunction() ? on_value.As<Napi::Function>()
                                                : Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
      tsfn_ = Napi::ThreadSafeFunction::New(env, cb, name, 0, 1, this, [](Napi::Env e, RunWorker* w) { w->Settle(e); });
    }
    Napi::Promise Promise() { return deferred_.Promise(); }

    void Execute() override {
      Engine& e = *owner_->engine;
      e.set_abort_flag(&owner_->abort_flag);
      Emit emit = [this](int v) {
        int* boxed = new int(v);
        napi_status st = tsfn_.BlockingCall(boxed, [this](Napi::Env env, Napi::Function cb, int* t) {
          int value = *t;
          delete t;
          if (env == nullptr || callback_error_) return;
          try {
            cb.Call({Napi::Number::New(env, value)});
          } catch (const Napi::Error& err) {
            // The callback threw: stop the run and reject with its message (the JS thread owns these).
            callback_error_ = true;
            callback_msg_ = err.Message();
            owner_->abort_flag = true;
          }
        });
        if (st != napi_ok) delete boxed;
      };
      try {
        job_->run(e, owner_->abort_flag, emit);
      } catch (...) {
        err_ = classify(std::current_exception());
        failed_ = true;
      }
      if (failed_ || owner_->abort_flag.load()) {
        try {
          job_->after_failure(e);
        } catch (...) {
        }
      }
      e.set_abort_flag(nullptr);
    }
    // Release the TSFN so its finalizer runs after the queued callbacks, and settle there.
    void OnOK() override { tsfn_.Release(); }
    void OnError(const Napi::Error&) override { tsfn_.Release(); }

    void Settle(Napi::Env env) {
      Napi::HandleScope scope(env);
      try {
        if (callback_error_) {
          deferred_.Reject(make_error(env, "ON_TOKEN", "onToken threw: " + callback_msg_).Value());
        } else if (failed_) {
          deferred_.Reject(make_error(env, err_.first, err_.second).Value());
        } else {
          deferred_.Resolve(job_->result(env));
        }
      } catch (const Napi::Error& e) {
        deferred_.Reject(e.Value());
      }
      // After the result is built (it may read the engine), then a deferred free() happens.
      owner_->end_run();
      self_.Reset();
      delete this;
    }

   private:
    Derived* owner_;
    std::unique_ptr<Job> job_;
    Napi::Promise::Deferred deferred_;
    Napi::ObjectReference self_;
    Napi::ThreadSafeFunction tsfn_;
    bool failed_ = false;
    std::pair<std::string, std::string> err_;
    bool callback_error_ = false;
    std::string callback_msg_;
  };
};

}  // namespace cosmos::binding
