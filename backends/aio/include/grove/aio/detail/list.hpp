// An intrusive, circular doubly-linked list. Waiters live in coroutine frames, which never
// move while suspended, so linking them costs no allocation and unlinking is O(1) from the
// node alone (a destroyed waiter removes itself without knowing its list).
#pragma once

namespace grove::aio::detail {

// A node's links for the list tagged `Tag`; a type may sit in several lists (one per tag).
template <class Tag>
struct Hook {
  Hook* prev = nullptr;
  Hook* next = nullptr;

  Hook() = default;
  // Moving is for awaiters handed around before they are awaited: the copy starts unlinked.
  Hook(Hook&&) noexcept {}
  Hook& operator=(const Hook&) = delete;
  ~Hook() { unlink(); }

  bool linked() const noexcept { return next != nullptr; }
  void unlink() noexcept {
    if (!next) return;
    prev->next = next;
    next->prev = prev;
    prev = next = nullptr;
  }
};

template <class T, class Tag>
class List {
 public:
  List() noexcept { head_.prev = head_.next = &head_; }
  List(const List&) = delete;
  List& operator=(const List&) = delete;
  // Nodes still linked are detached (they no longer point at this list).
  ~List() { clear(); }

  bool empty() const noexcept { return head_.next == &head_; }
  void push_back(T& node) noexcept {
    Hook<Tag>& h = node;
    h.prev = head_.prev;
    h.next = &head_;
    head_.prev->next = &h;
    head_.prev = &h;
  }
  T& front() noexcept { return static_cast<T&>(*head_.next); }
  T& pop_front() noexcept {
    T& node = front();
    static_cast<Hook<Tag>&>(node).unlink();
    return node;
  }
  void clear() noexcept {
    while (!empty()) pop_front();
    // The sentinel's own links point at itself; leave them so ~Hook() sees "linked" and
    // relinks harmlessly to itself.
  }
  // Visits every node; `f` must not unlink nodes other than the one it is given.
  template <class F>
  void for_each(F&& f) {
    for (Hook<Tag>* h = head_.next; h != &head_;) {
      Hook<Tag>* next = h->next;
      f(static_cast<T&>(*h));
      h = next;
    }
  }

 private:
  Hook<Tag> head_;
};

}  // namespace grove::aio::detail
