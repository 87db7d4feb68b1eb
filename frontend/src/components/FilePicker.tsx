// A file input that is visually hidden but focusable, shown as a button-like label; hands over the picked files.

import type { InputHTMLAttributes } from 'react';

export interface FilePickerProps {
  id: string;
  label: string;
  accept: string;
  multiple?: boolean;
  capture?: InputHTMLAttributes<HTMLInputElement>['capture'];
  /** Extra class on both the input and its label (e.g. camera-only). */
  className?: string;
  disabled: boolean;
  onFiles: (files: File[]) => void;
}

export function FilePicker({ id, label, accept, multiple, capture, className, disabled, onFiles }: FilePickerProps) {
  const extra = className ? ` ${className}` : '';
  return (
    <>
      <input
        id={id}
        className={`visually-hidden${extra}`}
        type="file"
        accept={accept}
        multiple={multiple}
        capture={capture}
        disabled={disabled}
        onChange={(event) => {
          onFiles(Array.from(event.target.files ?? []));
          // The same file picked again must fire a change too.
          event.target.value = '';
        }}
      />
      <label htmlFor={id} className={`button primary-outline${extra}`}>
        {label}
      </label>
    </>
  );
}
